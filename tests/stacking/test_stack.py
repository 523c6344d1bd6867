"""fit_stack / FittedStack: test-time consistency, serialisation, multi-label, baseline."""

from __future__ import annotations

import pickletools
from pathlib import Path

import numpy as np
import pytest

from stacking import FittedStack, StackSpec, fit_stack, macro_auc, named_stacks

SPECS = [
    StackSpec("logistic", ("a", "b", "c"), {"C": 1.0}, transform="logit", passthrough=("age",)),
    StackSpec("lightgbm", ("a", "b"), {"n_estimators": 60, "min_child_samples": 10},
              transform="rank", monotone=True, passthrough=("age", "sex")),
    StackSpec("greedy", ("a", "b", "c"), {"n_iter": 10}, transform="rank"),
    StackSpec("weighted", ("a", "b"), {"objective": "log_loss"}, transform="logit"),
]


def _no_pickle(directory: Path) -> None:
    for f in directory.iterdir():
        assert f.suffix in (".json", ".txt"), f
        raw = f.read_bytes()
        assert not raw.startswith(b"\x80"), f"{f} starts with a pickle protocol opcode"
        with pytest.raises(Exception):  # noqa: B017 - any failure: it is not a pickle
            list(pickletools.genops(raw))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.label())
def test_predict_test_is_mean_of_level0_sets_and_roundtrips(level1, tmp_path, spec) -> None:
    d, _ = level1(n_dev=400, n_test=60, tabular=True)
    fs = fit_stack(d, spec, seed=3)
    assert fs.oof_.shape == fs.oof_raw_.shape == (400, 1)
    sets = [fs.predict_level0({m: d.test_by_fold[m][k] for m in d.members}, d.tabular_test)
            for k in range(d.n_folds)]
    pred = fs.predict_test(d.test_by_fold, d.tabular_test)
    np.testing.assert_allclose(pred, np.mean(sets, axis=0), atol=1e-12)
    assert not np.allclose(sets[0], sets[1])  # the fold sets really differ
    out = fs.save(tmp_path / "stack")
    _no_pickle(out)
    back = FittedStack.load(out)
    np.testing.assert_allclose(back.predict_test(d.test_by_fold, d.tabular_test), pred,
                               atol=1e-7, rtol=0)
    np.testing.assert_array_equal(back.oof_, fs.oof_)
    assert back.spec == spec and back.calibration_ == fs.calibration_
    # one record alone predicts as in the batch (rank ECDF, standardisation, NaN handling)
    one = back.predict_level0({m: d.test_by_fold[m][0][5:6] for m in d.members},
                              d.tabular_test[5:6])
    np.testing.assert_allclose(one[0], sets[0][5], atol=1e-12)


def test_meta_oof_is_out_of_fold(level1) -> None:
    """Each fold's meta-OOF equals a model fitted without that fold (no in-sample leakage)."""
    d, _ = level1(n_dev=300, n_test=10)
    spec = StackSpec("logistic", ("a", "b"), transform="logit", calibration="none")
    fs = fit_stack(d, spec)
    sub = d.dev_subset(d.folds != 2)
    solo = fit_stack(sub, spec)  # its final model saw exactly the rows outside fold 2
    te = d.folds == 2
    np.testing.assert_allclose(
        fs.oof_raw_[te], solo.model.predict(
            np.column_stack([np.log(d.oof[m][te] / (1 - d.oof[m][te])) for m in ("a", "b")])),
        atol=1e-5)


def test_multilabel_path(level1) -> None:
    d, y_test = level1(n_dev=500, n_test=300, n_classes=3)
    for spec in (StackSpec("logistic", ("a", "b", "c"), transform="logit", cross_class=True),
                 StackSpec("lightgbm", ("a", "b"), {"n_estimators": 80}, cross_class=True),
                 StackSpec("mean", ("a", "b", "c"), transform="rank")):
        fs = fit_stack(d, spec)
        pred = fs.predict_test(d.test_by_fold)
        assert pred.shape == (300, 3) and fs.oof_.shape == (500, 3)
        assert ((pred >= 0) & (pred <= 1)).all()
        assert macro_auc(y_test, pred) > 0.85
    # cross_class makes each class's model read all 3 classes' columns
    assert len(fs.model.columns_[0]) == 3
    lr = fit_stack(d, StackSpec("logistic", ("a", "b"), cross_class=True))
    assert [len(c) for c in lr.model.columns_] == [6, 6, 6]


def test_named_stacks_and_best_single_chosen_on_dev(level1) -> None:
    d, _ = level1()
    specs = named_stacks(d, seed=0)
    assert set(specs) == {"best_single", "mean", "rank_mean", "greedy", "weighted"}
    dev_auc = {m: macro_auc(d.y, d.oof[m]) for m in d.members}
    assert specs["best_single"].members == (max(dev_auc, key=dev_auc.__getitem__),)
    single = fit_stack(d, specs["best_single"])
    np.testing.assert_allclose(single.oof_raw_[:, 0], d.oof[single.spec.members[0]][:, 0])
    greedy = fit_stack(d, specs["greedy"])
    assert greedy.cv_auc_ > single.cv_auc_ + 0.05


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="valid"):
        StackSpec("svm", ("a",))
    with pytest.raises(ValueError, match="passthrough and cross_class"):
        StackSpec("mean", ("a",), passthrough=("age",))
    with pytest.raises(ValueError, match="unknown hyper-parameters"):
        from stacking import create_learner
        create_learner("logistic", {"depth": 3})
    assert StackSpec.from_dict(SPECS[1].to_dict()) == SPECS[1]


def test_missing_tabular_for_passthrough_raises(level1) -> None:
    d, _ = level1(n_dev=200, n_test=20, tabular=True)
    fs = fit_stack(d, SPECS[0])
    with pytest.raises(ValueError, match="needs tabular features"):
        fs.predict_test(d.test_by_fold)
