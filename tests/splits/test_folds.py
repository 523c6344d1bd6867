from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ensembler.config import SplitConfig
from ensembler.data.cohort import Cohort
from ensembler.errors import SplitError
from ensembler.splits import Split, check_split, make_split


def cohort(n_pat: int = 60, n_cls: int = 1, seed: int = 0,
           predefined: np.ndarray | None = None) -> Cohort:
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 4, n_pat)
    pid = np.repeat([f"p{i}" for i in range(n_pat)], counts)
    n = len(pid)
    return Cohort(signals=rng.standard_normal((n, 2, 20)).astype(np.float32),
                  labels=(rng.random((n, n_cls)) < 0.3).astype(np.uint8),
                  class_names=[f"c{i}" for i in range(n_cls)], patient_id=pid,
                  record_id=np.array([f"r{i}" for i in range(n)]), fs=2.0,
                  lead_names=["I", "II"], predefined_fold=predefined)


def test_grouped_stratified_folds_with_test_fraction() -> None:
    c = cohort(n_pat=120)
    sp = make_split(c, SplitConfig(n_folds=4, test_fraction=0.25), seed=1)
    assert set(np.unique(sp.fold)) == {-1, 0, 1, 2, 3} and sp.n_folds == 4
    check_split(c.patient_id, sp.fold)
    test_pat = len(np.unique(c.patient_id[sp.fold == -1]))
    assert test_pat == 30
    rates = [c.labels[sp.fold == f, 0].mean() for f in range(4)]
    assert max(rates) - min(rates) < 0.12
    again = make_split(c, SplitConfig(n_folds=4, test_fraction=0.25), seed=1)
    assert again.fingerprint == sp.fingerprint
    other = make_split(c, SplitConfig(n_folds=4, test_fraction=0.25), seed=2)
    assert other.fingerprint != sp.fingerprint


def test_multilabel_and_no_test() -> None:
    c = cohort(n_pat=80, n_cls=3)
    sp = make_split(c, SplitConfig(n_folds=5, test="none"), seed=0)
    assert (sp.fold >= 0).all() and set(np.unique(sp.fold)) == set(range(5))


def _pid_folds(c: Cohort) -> np.ndarray:
    # predefined folds by patient: 1..4, with patients of fold 4 as test (-1)
    pnum = np.array([int(p[1:]) for p in c.patient_id])
    return np.where(pnum % 4 == 3, -1, pnum % 4 + 1)


def test_predefined_test_and_dev_folds() -> None:
    c = cohort()
    c.predefined_fold = _pid_folds(c)
    sp = make_split(c, SplitConfig(test="predefined", dev_folds="predefined"), seed=0)
    assert sp.n_folds == 3
    np.testing.assert_array_equal(sp.fold == -1, c.predefined_fold == -1)
    np.testing.assert_array_equal(sp.fold[sp.fold >= 0], c.predefined_fold[sp.fold >= 0] - 1)
    regrouped = make_split(c, SplitConfig(test="predefined", n_folds=2), seed=0)
    assert regrouped.n_folds == 2
    np.testing.assert_array_equal(regrouped.fold == -1, c.predefined_fold == -1)


def test_predefined_folds_that_split_a_patient_are_refused() -> None:
    c = cohort()
    folds = _pid_folds(c)
    names, counts = np.unique(c.patient_id, return_counts=True)
    rows = np.flatnonzero(c.patient_id == names[np.argmax(counts)])
    assert len(rows) >= 2
    folds[rows[0]] = -1 if folds[rows[1]] != -1 else 1  # planted leak
    c.predefined_fold = folds
    with pytest.raises(SplitError, match=str(c.patient_id[rows[0]])):
        make_split(c, SplitConfig(test="predefined"), seed=0)


def test_check_split_names_the_leaking_patient() -> None:
    pid = np.array(["a", "a", "b", "c", "c"])
    check_split(pid, np.array([0, 0, 1, -1, -1]))
    with pytest.raises(SplitError, match=r"1 patient\(s\).*c: \['test', 1\]"):
        check_split(pid, np.array([0, 0, 1, 1, -1]))


def test_missing_predefined_folds_is_an_error() -> None:
    with pytest.raises(SplitError, match="no predefined folds"):
        make_split(cohort(), SplitConfig(test="predefined"), seed=0)


def test_split_json_round_trip_and_tamper(tmp_path: Path) -> None:
    sp = make_split(cohort(), SplitConfig(), seed=0)
    sp.to_json(tmp_path / "split.json")
    back = Split.from_json(tmp_path / "split.json")
    assert back.fingerprint == sp.fingerprint
    np.testing.assert_array_equal(back.fold, sp.fold)
    raw = json.loads((tmp_path / "split.json").read_text())
    raw["fold"][0] = (raw["fold"][0] + 1) % 5  # moved one record to another fold
    (tmp_path / "split.json").write_text(json.dumps(raw))
    with pytest.raises(SplitError, match="fingerprint mismatch"):
        Split.from_json(tmp_path / "split.json")


def test_blank_manifest_folds_are_development_rows() -> None:
    from ensembler.data.table import DEV_FOLD

    c = cohort(n_pat=40)
    pre = _pid_folds(c)
    pre[pre >= 0] = DEV_FOLD  # manifest: blank = development, "test" = test
    c.predefined_fold = pre
    sp = make_split(c, SplitConfig(test="predefined", n_folds=3), seed=0)
    np.testing.assert_array_equal(sp.fold == -1, pre == -1)
    assert set(np.unique(sp.fold[pre != -1])) == {0, 1, 2}
    with pytest.raises(SplitError, match="blank fold"):
        make_split(c, SplitConfig(test="predefined", dev_folds="predefined"), seed=0)
