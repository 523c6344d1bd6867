"""Level1Data validation: every bad input is a ValueError naming the field."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from stacking import Level1Data


def _kwargs(level1) -> dict:
    d, _ = level1(n_dev=80, n_test=20)
    return {"members": d.members, "class_names": d.class_names, "oof": dict(d.oof),
            "test_by_fold": dict(d.test_by_fold), "y": d.y, "groups": d.groups,
            "folds": d.folds}


def test_valid_data_and_dev_subset(level1) -> None:
    d = Level1Data(**_kwargs(level1))
    assert d.n_folds == 4 and d.n_dev == 80
    sub = d.dev_subset(d.folds != 1)
    assert sub.n_folds == 3 and sorted(np.unique(sub.folds)) == [0, 1, 2]
    assert sub.n_dev == int((d.folds != 1).sum())


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda kw: kw["oof"].__setitem__("a", kw["oof"]["a"][:-1]), r"oof\['a'\].*shape"),
        (lambda kw: kw["oof"]["b"].__setitem__((0, 0), np.nan), r"oof\['b'\].*NaN"),
        (lambda kw: kw["oof"]["c"].__setitem__((3, 0), 1.5), r"oof\['c'\].*\[0, 1\]"),
        (lambda kw: kw["y"].__setitem__((0, 0), 2), "y: labels must be 0 or 1"),
        (lambda kw: kw.__setitem__("folds", kw["folds"] + 1), "every fold 0..K-1"),
        (lambda kw: kw["folds"].__setitem__(0, (kw["folds"][1] + 1) % 4),
         "more than one fold"),
        (lambda kw: kw["test_by_fold"].__setitem__("a", kw["test_by_fold"]["a"][:3]),
         r"test_by_fold\['a'\].*shape"),
        (lambda kw: kw.__setitem__("members", ["a", "zz"]), "no oof/test_by_fold"),
        (lambda kw: kw.__setitem__("y", np.zeros_like(kw["y"])), "only one label"),
    ],
)
def test_bad_input_raises(level1, change, match) -> None:
    kw = _kwargs(level1)
    kw["oof"] = {m: v.copy() for m, v in kw["oof"].items()}
    kw["y"], kw["folds"] = kw["y"].copy(), kw["folds"].copy()
    change(kw)
    with pytest.raises(ValueError, match=match):
        Level1Data(**kw)


def test_import_stacking_does_not_import_torch() -> None:
    code = "import sys, stacking; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
