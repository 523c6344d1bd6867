"""Diversity panel, stacking side: within-class correlation, drop-one nested reruns,
greedy path and member contributions, on synthetic level-1 arrays with planted members."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from planted_members import planted
from scipy.special import expit

from stacking import (
    GreedyEnsembleSelection,
    Level1Data,
    StackSpec,
    drop_one,
    fit_stack,
    greedy_path,
    member_contributions,
    nested_cv,
    within_class_correlation,
)

FAST: dict[str, Any] = dict(learners=("logistic",), transforms=("logit",))


def test_nested_cv_returns_its_out_of_fold_scores() -> None:
    d = planted(n_dev=600)
    res = nested_cv(d, 3, seed=0, **FAST)
    assert res.oof is not None and res.oof.shape == d.y.shape
    from stacking import macro_auc

    for k, auc in enumerate(res.fold_aucs):
        rows = d.folds == k
        assert macro_auc(d.y[rows], res.oof[rows]) == pytest.approx(auc)


def test_drop_one_duplicate_is_near_zero_and_complementary_is_clearly_positive() -> None:
    d = planted()
    res = drop_one(d, n_trials=4, seed=0, **FAST)
    assert set(res.without) == {"a", "a_copy", "b"}
    assert abs(res.effect("a_copy")) < 0.005  # its copy stays in the stack
    assert abs(res.effect("a")) < 0.005
    assert res.effect("b") > 0.05  # only b sees z2
    for m, r in res.without.items():
        assert m not in {mm for s in r.specs for mm in s.members}
        assert r.oof is not None


def test_drop_one_reuses_a_given_reference_and_refuses_one_member() -> None:
    d = planted(n_dev=600)
    ref = nested_cv(d, 3, seed=0, **FAST)
    res = drop_one(d, n_trials=3, seed=0, reference=ref, **FAST)
    assert res.reference is ref
    with pytest.raises(ValueError, match="at least 2 members"):
        drop_one(d.with_members(["a"]), n_trials=3, **FAST)


def test_within_class_correlation_removes_the_shared_label_signal() -> None:
    """Two members = label + independent noise: strongly correlated over all rows, not
    within either class (their errors are independent)."""
    rng = np.random.default_rng(1)
    n = 2000
    y = (rng.random(n) < 0.4).astype(np.int64)
    oof = {m: expit(3.0 * (y - 0.5) + rng.normal(size=n))[:, None] for m in ("p", "q")}
    d = Level1Data(members=["p", "q"], class_names=["x"], oof=oof,
                   test_by_fold={m: np.full((2, 1, 1), 0.5) for m in oof}, y=y[:, None],
                   groups=np.arange(n), folds=np.arange(n) % 2)
    (cc,) = within_class_correlation(d)
    assert cc.n_pos == y.sum() and cc.n_neg == n - y.sum()
    assert cc.unconditional[0, 1] > 0.5
    assert abs(cc.positives[0, 1]) < 0.1 and abs(cc.negatives[0, 1]) < 0.1
    np.testing.assert_allclose(np.diag(cc.positives), 1.0)


def test_within_class_correlation_sees_a_copy() -> None:
    (cc,) = within_class_correlation(planted(n_dev=600))
    i, j, b = cc.members.index("a"), cc.members.index("a_copy"), cc.members.index("b")
    assert cc.positives[i, j] > 0.99 and cc.negatives[i, j] > 0.99
    # independent halves of the signal: negative within a class (conditioning on the label
    # makes two independent causes of it negatively related), positive over all rows
    assert cc.negatives[i, b] < -0.1 and cc.positives[i, b] < -0.1
    assert cc.unconditional[i, b] > cc.negatives[i, b] + 0.1


def test_greedy_path_starts_from_the_best_member_and_matches_the_fitted_weights() -> None:
    d = planted(n_dev=600)
    spec = StackSpec("greedy", tuple(d.members), {"n_iter": 10, "metric": "auc"})
    (path,) = greedy_path(d, spec)
    assert len(path.steps) == 11 and path.metric == "auc"
    from stacking import macro_auc

    aucs = {m: macro_auc(d.y, d.oof[m]) for m in d.members}
    assert path.steps[0][0] == max(aucs, key=lambda m: aucs[m])
    assert {m for m, _ in path.steps[: path.best_step + 1]} >= {"b"}
    assert path.steps[path.best_step][1] == max(s for _, s in path.steps)
    fitted = fit_stack(d, spec, seed=0, calibration_methods=["none"])
    est = fitted.model.estimators_[0]
    assert isinstance(est, GreedyEnsembleSelection)
    weights = est.weights_
    np.testing.assert_allclose([path.weights[m] for m in d.members], weights)
    with pytest.raises(ValueError, match="expected 'greedy'"):
        greedy_path(d, StackSpec("mean", tuple(d.members)))


def test_member_contributions_share_and_blend_weights() -> None:
    d = planted(n_dev=600)
    lr = fit_stack(d, StackSpec("logistic", ("a", "b"), {"C": 1.0}, transform="logit",
                                calibration="none"), seed=0)
    (c,) = member_contributions(lr, d)
    assert set(c.share) == {"a", "b"} and c.weights is None
    assert sum(c.share.values()) == pytest.approx(1.0)
    assert min(c.share.values()) > 0.3  # both halves of the signal matter
    mean = fit_stack(d, StackSpec("mean", ("a", "b"), calibration="none"), seed=0)
    (cm,) = member_contributions(mean, d)
    assert cm.weights == {"a": 0.5, "b": 0.5}
