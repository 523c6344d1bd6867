"""Write the synthetic cohort to disk: WFDB records, a CSV manifest and ``oracle.json``.

The cohort is then read back through the generic manifest source, so the
default configuration exercises the real loading path. Writes go to a temporary
sibling folder that is renamed into place at the end: a folder that exists is
complete.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ensembler.config import ManifestConfig, SyntheticConfig
from ensembler.config.data import SYNTHETIC_TABULAR
from ensembler.data.cohort import STANDARD_LEADS
from ensembler.data.ptbxl import age_band
from ensembler.data.synth.condition import draw_latents
from ensembler.data.synth.ecg_model import ECGParams, render
from ensembler.data.table import TEST_FOLD
from ensembler.data.wfdb_io import write_record
from ensembler.errors import DataError
from ensembler.utils.atomic import atomic_dir, marked_by
from stacking.metrics import binary_auc

GENERATOR_VERSION = "1"
MANIFEST = "manifest.csv"


def synthetic_key(cfg: SyntheticConfig, seed: int) -> str:
    """Hash (16 hex) of the synthetic config, the seed and the generator version."""
    text = json.dumps([GENERATOR_VERSION, seed, cfg.model_dump(mode="json")], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def manifest_config(folder: Path, class_names: list[str]) -> ManifestConfig:
    """The ManifestConfig that reads a folder written by :func:`write_synthetic`."""
    return ManifestConfig(
        path=str(folder / MANIFEST), label_columns=class_names,
        tabular_columns=list(SYNTHETIC_TABULAR),
        subgroup_columns=["sex_group", "age_band", "paced"], fold_column="fold",
    )


def oracle_auc(risk: np.ndarray, labels: np.ndarray) -> list[float | None]:
    """Per-class AUC of the latent risk (N, C) against labels (N, C); None if one class only."""
    out: list[float | None] = []
    for c in range(labels.shape[1]):
        ok = 0 < labels[:, c].sum() < len(labels)
        out.append(binary_auc(labels[:, c], risk[:, c]) if ok else None)
    return out


def _params(lat: Any, i: int, rng: np.random.Generator) -> ECGParams:
    z = lat.z[i]
    return ECGParams(
        heart_rate=float(np.clip(rng.normal(70, 10), 45, 110)),
        axis_deg=50.0 - 25.0 * z[4],
        qrs_scale=float(np.exp(-0.15 * z[0])),
        q_depth_v13=float(0.08 * np.exp(0.5 * z[1])),
        qt_factor=float(np.exp(0.05 * z[2])),
        irregular=bool(lat.irregular[i]),
        paced=bool(lat.paced[i]),
        wander_mv=float(rng.uniform(0.02, 0.2)),
        mains_mv=float(rng.uniform(0.005, 0.03)) if rng.random() < 0.3 else 0.0,
        muscle_mv=float(rng.uniform(0.005, 0.03)),
    )


def write_synthetic(cfg: SyntheticConfig, seed: int, out_dir: Path) -> dict[str, Any]:
    """Synthesise the cohort into ``out_dir`` (must not exist) and return the oracle summary.

    Layout: ``records/<record>.hea/.dat`` (12 leads, format 16, 1 µV), ``manifest.csv``
    (record, patient_id, labels, age, sex (1 = female), pacemaker, subgroups,
    fold = -1 for the ``n_test_patients`` held-out patients else 0, ``oracle:<class>``)
    and ``oracle.json`` (oracle AUC on dev and test, counts, the config).
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise DataError(f"{out_dir}: already exists; synthetic output is never overwritten")
    rng = np.random.default_rng(seed)
    n_pat = cfg.n_patients + cfg.n_test_patients
    lat = draw_latents(cfg, n_pat, rng)
    is_test = lat.patient_index >= cfg.n_patients
    # keep_existing: the same key written concurrently by another process is kept
    with atomic_dir(out_dir, marked_by(MANIFEST, "oracle.json"), keep_existing=True) as tmp:
        (tmp / "records").mkdir()
        rows = []
        for i in range(len(lat.patient_index)):
            rid = f"s{i:06d}"
            sig = render(_params(lat, i, rng), cfg.fs, cfg.duration_s, rng)
            write_record(tmp / "records" / rid, sig, STANDARD_LEADS, cfg.fs)
            rows.append({"record": f"records/{rid}",
                         "patient_id": f"p{lat.patient_index[i]:05d}"})
        df = pd.DataFrame(rows)
        for c, name in enumerate(lat.class_names):
            df[name] = lat.labels[:, c]
        df["age"] = np.round(lat.age, 1)
        df["sex"] = lat.female.astype(int)
        df["pacemaker"] = lat.paced.astype(int)
        df["sex_group"] = np.where(lat.female, "female", "male")
        df["age_band"] = age_band(lat.age)
        df["paced"] = np.where(lat.paced, "paced", "not paced")
        df["fold"] = np.where(is_test, TEST_FOLD, 0)
        for c, name in enumerate(lat.class_names):
            df[f"oracle:{name}"] = lat.risk[:, c]
        df.to_csv(tmp / MANIFEST, index=False)
        summary = {
            "seed": seed, "key": synthetic_key(cfg, seed), "class_names": lat.class_names,
            "n_records": len(df), "n_patients": n_pat,
            "n_dev_records": int((~is_test).sum()), "n_test_records": int(is_test.sum()),
            "positives": lat.labels.sum(axis=0).tolist(),
            "oracle_auc_dev": oracle_auc(lat.risk[~is_test], lat.labels[~is_test]),
            "oracle_auc_test": oracle_auc(lat.risk[is_test], lat.labels[is_test])
            if is_test.any() else None,
            "config": cfg.model_dump(mode="json"),
        }
        (tmp / "oracle.json").write_text(json.dumps(summary, indent=2))
    return summary
