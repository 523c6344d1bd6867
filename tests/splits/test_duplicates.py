from __future__ import annotations

import numpy as np
import pytest

from ensembler.data.cohort import Cohort
from ensembler.errors import SplitError
from ensembler.splits import find_duplicate_recordings


def planted() -> tuple[Cohort, np.ndarray]:
    rng = np.random.default_rng(0)
    sig = rng.standard_normal((40, 12, 1000)).astype(np.float32)
    sig[10] = sig[3]  # exact copy, other patient, other fold
    sig[20] = sig[5] + 0.01 * rng.standard_normal((12, 1000)).astype(np.float32)  # near copy
    sig[31] = sig[30]  # copy within the same fold: no leak
    c = Cohort(signals=sig, labels=np.zeros((40, 1), np.uint8), class_names=["y"],
               patient_id=np.array([f"p{i}" for i in range(40)]),
               record_id=np.array([f"r{i}" for i in range(40)]), fs=100.0)
    fold = np.arange(40) % 4
    fold[[30, 31]] = 2
    fold[20] = -1
    return c, fold


def test_planted_duplicates_are_found_and_warned() -> None:
    c, fold = planted()
    with pytest.warns(UserWarning, match="2 recording pair"):
        pairs = find_duplicate_recordings(c, fold, "warn")
    got = {(p.record_i, p.record_j, p.kind) for p in pairs}
    assert ("r3", "r10", "exact") in got
    assert any(p.record_i == "r5" and p.record_j == "r20" and p.kind == "near" for p in pairs)
    assert len(pairs) == 2  # r30/r31 share a fold


def test_refuse_and_off() -> None:
    c, fold = planted()
    with pytest.raises(SplitError, match="r3/r10"):
        find_duplicate_recordings(c, fold, "refuse")
    assert find_duplicate_recordings(c, fold, "off") == []
