"""Real-data checks on the shared PTB-XL copy ($ENSEMBLER_PTBXL_DIR); skip when unset.

Label counts come from the CSV + file presence (fast); only a small sample of
records is read and preprocessed. The full cache build is in bench/bench_data.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ensembler.config import PreprocessingConfig, PTBXLConfig, config_from_dict
from ensembler.data import load_cohort
from ensembler.data.leads import map_leads, resolve_leads
from ensembler.data.ptbxl import load_ptbxl_table, ptbxl_labels, read_tables
from ensembler.data.wfdb_io import read_record

pytestmark = pytest.mark.realdata

PUBLISHED = {"NORM": 9528, "MI": 5486, "STTC": 5250, "CD": 4907, "HYP": 2655}


@pytest.fixture(scope="module")
def root() -> Path:
    path = os.environ.get("ENSEMBLER_PTBXL_DIR")
    if not path:
        pytest.skip("ENSEMBLER_PTBXL_DIR is not set")
    return Path(path)


def test_superdiagnostic_counts_match_published(root: Path) -> None:
    db, scp = read_tables(root)
    labels, names, _ = ptbxl_labels(db, scp, "superdiagnostic")
    assert names == list(PUBLISHED)
    if len(db) == 21837:  # the full 1.0.1 CSV
        assert dict(zip(names, labels.sum(0).tolist(), strict=True)) == PUBLISHED


def test_partial_copy_uses_present_records_and_fold_rule(root: Path) -> None:
    table = load_ptbxl_table(PTBXLConfig(path=str(root)), PreprocessingConfig())
    counts = dict(zip(table.class_names, table.labels.sum(0).tolist(), strict=True))
    present = {int(p.name.split("_")[0]) for p in (root / "records100").rglob("*.hea")}
    assert len(table) + table.info["rows_dropped_no_label"] == len(present)
    assert table.info["rows_skipped_missing_files"] == table.info["rows_in_csv"] - len(present)
    assert table.predefined_fold is not None
    folds = set(np.unique(table.predefined_fold).tolist())
    if table.info["test_strat_fold"] == 9:  # the shared copy: folds 1-9
        assert counts == {"NORM": 4289, "MI": 2452, "STTC": 2303, "CD": 2194, "HYP": 1162}
        assert folds == {-1, *range(1, 9)}
    assert table.tabular_names == ["age", "sex", "height", "weight", "pacemaker"]
    assert np.isnan(table.tabular[:, 2]).mean() > 0.5  # height mostly missing, kept as NaN
    assert set(table.subgroups["paced"]) == {"paced", "not paced"}


def test_stored_limb_leads_match_derivation(root: Path) -> None:
    path = next(iter(sorted((root / "records100").rglob("*.hea")))).with_suffix("")
    sig, names, fs = read_record(path, expected_fs=100.0)
    assert fs == 100.0 and names[3] == "AVR"
    eight = [names.index(n) for n in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")]
    derived = map_leads(sig[:, eight], [names[i] for i in eight], resolve_leads(None))
    np.testing.assert_allclose(derived, sig, atol=0.01)


def test_small_sample_loads_through_the_cache(root: Path, tmp_path: Path) -> None:
    db = pd.read_csv(root / "ptbxl_database.csv")
    present = db[[(root / f"{f}.dat").is_file() for f in db["filename_lr"]]]
    sample = pd.concat([present[present.strat_fold == f].head(3) for f in (1, 2, 9)])
    (tmp_path / "ptbxl").mkdir()
    sample.to_csv(tmp_path / "ptbxl/ptbxl_database.csv", index=False)
    shutil.copy(root / "scp_statements.csv", tmp_path / "ptbxl")
    for f in sample["filename_lr"]:
        dst = tmp_path / "ptbxl" / f
        dst.parent.mkdir(parents=True, exist_ok=True)
        for ext in (".hea", ".dat"):
            os.symlink(root / f"{f}{ext}", f"{dst}{ext}")
    cfg = config_from_dict({"data": {"source": "ptbxl", "ptbxl": {"path": str(tmp_path / "ptbxl")},
                                     "preprocessing": {"fs": 50.0, "bandpass": [0.5, 20]}}})
    c = load_cohort(cfg, tmp_path / "cache", progress=False)
    assert c.signals.shape[1:] == (12, 500) and len(c) <= 9
    assert c.lead_names[3] == "aVR" and np.isfinite(np.asarray(c.signals)).all()
    assert c.predefined_fold is not None and (c.predefined_fold == -1).sum() >= 1
