"""Stack apportionment: contributions sum to the meta-learner's raw score, per learner."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logit

from stacking import StackSpec, fit_stack
from stacking.explain import member_shares, stack_contributions

SPECS = [
    StackSpec("logistic", ("a", "b", "c"), {"C": 1.0}, transform="logit", passthrough=("age",),
              calibration="none"),
    StackSpec("lightgbm", ("a", "b"), {"n_estimators": 60, "min_child_samples": 10},
              transform="rank", passthrough=("age", "sex"), calibration="none"),
    StackSpec("weighted", ("a", "b"), {"objective": "log_loss"}, transform="logit",
              calibration="none"),
    StackSpec("mean", ("a", "b", "c"), transform="prob", calibration="none"),
]


def _raw_score(spec: StackSpec, p: np.ndarray) -> np.ndarray:
    """The learner's raw score from its probability (inverse of its output link)."""
    if spec.learner in ("logistic", "lightgbm") or spec.transform == "logit":
        return np.asarray(logit(p))
    return p


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.label())
def test_contributions_add_up_to_the_raw_score(level1, spec) -> None:  # type: ignore[no-untyped-def]
    d, _ = level1(n_dev=300, n_test=40, tabular=True)
    fs = fit_stack(d, spec, seed=1)
    preds = {m: d.test_by_fold[m][0] for m in spec.members}
    tab = d.tabular_test if spec.passthrough else None
    (cc,) = stack_contributions(fs, preds, tab)
    p = fs.predict_level0(preds, tab)[:, 0]  # calibration "none": identity
    np.testing.assert_allclose(cc.score, _raw_score(spec, p), atol=1e-6)
    shares = member_shares(cc, list(spec.members))
    total = sum(shares.values())
    np.testing.assert_allclose(total + cc.bias, cc.score, atol=1e-9)
    if spec.learner == "logistic":  # age passthrough gets its own, non-zero share
        assert shares["tabular"].any()
    if not spec.passthrough:
        assert not shares["tabular"].any()


def test_the_informative_member_gets_the_larger_share(level1) -> None:  # type: ignore[no-untyped-def]
    d, _ = level1(n_dev=400, n_test=200)
    aucs = {m: np.corrcoef(d.oof[m][:, 0], d.y[:, 0])[0, 1] for m in d.members}
    best, worst = max(aucs, key=aucs.__getitem__), min(aucs, key=aucs.__getitem__)
    spec = StackSpec("logistic", tuple(d.members), {"C": 1.0}, transform="logit",
                     calibration="none")
    fs = fit_stack(d, spec, seed=0)
    (cc,) = stack_contributions(fs, {m: d.test_by_fold[m][0] for m in d.members})
    shares = member_shares(cc, list(d.members))
    assert np.abs(shares[best]).mean() > np.abs(shares[worst]).mean()
