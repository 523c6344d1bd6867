"""Small generated inputs shared by the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ensembler.config import RunConfig, config_from_dict
from ensembler.data.cohort import STANDARD_LEADS
from ensembler.data.wfdb_io import write_record


def sine_record(n: int = 1000, n_leads: int = 12, seed: int = 0) -> np.ndarray:
    """(n, n_leads) mV: distinct sines + noise per lead, never flat."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 100.0
    return np.stack([0.5 * np.sin(2 * np.pi * (1 + j / 4) * t) for j in range(n_leads)], 1) \
        + 0.01 * rng.standard_normal((n, n_leads))


def write_manifest_folder(folder: Path, n_records: int = 12, fs: float = 100.0,
                          leads: tuple[str, ...] = STANDARD_LEADS) -> Path:
    """Write ``n_records`` WFDB records (2 per patient) and a manifest; return the CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_records):
        sig = sine_record(int(10 * fs), len(leads), seed=i)
        write_record(folder / f"r{i:03d}", sig, leads, fs)
        rows.append({"record": f"r{i:03d}", "patient_id": f"p{i // 2}", "y": i % 2,
                     "age": 40 + i, "fold": "test" if i >= n_records - 2 else i % 3})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


def manifest_cfg(csv: Path, **pre: object) -> RunConfig:
    return config_from_dict({"data": {
        "source": "wfdb",
        "manifest": {"path": str(csv), "label_columns": ["y"], "tabular_columns": ["age"],
                     "fold_column": "fold"},
        "preprocessing": {"fs": 100.0, **pre}}})


def tiny_synthetic_cfg(**syn: object) -> RunConfig:
    return config_from_dict({"seed": 3, "data": {"synthetic": {
        "n_patients": 12, "ecgs_per_patient": [1, 2], "n_test_patients": 4, **syn}}})
