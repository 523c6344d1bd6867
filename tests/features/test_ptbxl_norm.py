"""The clinical feature set on real PTB-XL NORM records (100 Hz): physiological values.

Skips when $ENSEMBLER_PTBXL_DIR is unset. Records: the first 20 present whose only
diagnostic statement is NORM at likelihood 100 and whose rhythm is sinus (SR).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ensembler.data.cohort import STANDARD_LEADS
from ensembler.data.leads import map_leads
from ensembler.data.wfdb_io import read_record
from ensembler.features import create_feature_set

pytestmark = pytest.mark.realdata

#: normal adult ranges, widened by a measurement margin (ms, bpm, degrees)
RANGES = {"heart_rate_bpm": (40, 110), "pr_ms": (90, 240), "qrs_ms": (60, 130),
          "qt_ms": (300, 480), "qtc_bazett_ms": (340, 480), "qrs_axis_deg": (-45, 110)}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, float]]:
    path = os.environ.get("ENSEMBLER_PTBXL_DIR")
    if not path:
        pytest.skip("ENSEMBLER_PTBXL_DIR is not set")
    root = Path(path)
    db = pd.read_csv(root / "ptbxl_database.csv")
    codes = db["scp_codes"].map(ast.literal_eval)
    norm = db[codes.map(lambda c: c.get("NORM") == 100.0 and "SR" in c and len(c) <= 3)]
    fset = create_feature_set("ecg_clinical")
    out = []
    for rel in norm["filename_lr"]:
        if not (root / f"{rel}.hea").exists():
            continue
        sig, names, fs = read_record(root / rel)
        x = map_leads(sig, names, STANDARD_LEADS).T
        values = fset.compute(x, fs, STANDARD_LEADS)
        out.append(dict(zip(fset.columns(STANDARD_LEADS), values.tolist(), strict=True)))
        if len(out) == 20:
            break
    return out


def test_intervals_within_physiological_ranges(rows: list[dict[str, float]]) -> None:
    assert len(rows) == 20
    for name, (lo, hi) in RANGES.items():
        values = np.array([r[name] for r in rows])
        measured = values[np.isfinite(values)]
        assert measured.size >= 17, (name, values)  # at most 3 of 20 not measurable
        inside = (measured >= lo) & (measured <= hi)
        assert inside.mean() >= 0.9, (name, measured)


def test_quality_of_clean_norm_records(rows: list[dict[str, float]]) -> None:
    sqi = np.array([r["sqi"] for r in rows])
    assert np.median(sqi) > 0.9
    assert all(r["beat_count"] >= 5 for r in rows)
