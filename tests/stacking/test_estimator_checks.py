"""scikit-learn's estimator checks on every meta-learner.

LogisticStacker and LightGBMStacker pass in full. The blenders (mean, weighted,
greedy, best single) read one score column per member of the SAME class, so a
check that asks them to learn an arbitrary decision boundary from generic
features cannot apply; it is declared as an expected failure with its reason.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

from stacking import (
    BestSingle,
    GreedyEnsembleSelection,
    LightGBMStacker,
    LogisticStacker,
    MeanStacker,
    WeightedStacker,
)

_LAYOUT = ("column-layout contract: columns must be members' scores for one class; a blend "
           "cannot separate generic blobs whose features are not scores")
BLENDER_EXPECTED_FAILURES = {"check_classifiers_train": _LAYOUT}


def _run(estimator, expected: dict[str, str]) -> list[str]:
    failed: list[str] = []

    def callback(*, check_name, status, expected_to_fail, **_) -> None:
        if status == "failed" and not expected_to_fail:
            failed.append(check_name)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(estimator, expected_failed_checks=expected, on_fail=None,
                        callback=callback)
    return failed


@pytest.mark.parametrize("estimator", [LogisticStacker(), LogisticStacker(penalty="elasticnet"),
                                       LightGBMStacker(n_estimators=50)],
                         ids=lambda e: repr(e))
def test_learners_pass_check_estimator_in_full(estimator) -> None:
    check_estimator(estimator)  # raises on the first failing check


@pytest.mark.parametrize("estimator", [MeanStacker(), WeightedStacker(random_state=0),
                                       GreedyEnsembleSelection(), BestSingle()],
                         ids=lambda e: type(e).__name__)
def test_blenders_pass_check_estimator_with_declared_exceptions(estimator) -> None:
    assert _run(estimator, BLENDER_EXPECTED_FAILURES) == []


def test_blenders_learn_from_member_scores() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    good = np.clip(0.5 + 0.3 * (y - 0.5) + 0.2 * rng.normal(size=y.size), 0, 1)
    noise = rng.random(y.size)
    X = np.column_stack([noise, good, noise])
    assert BestSingle().fit(X, y).weights_.tolist() == [0.0, 1.0, 0.0]
    for est in (WeightedStacker(random_state=0), WeightedStacker(objective="log_loss"),
                GreedyEnsembleSelection()):
        w = clone(est).fit(X, y).weights_
        assert w[1] > 0.8 and w.sum() == pytest.approx(1.0) and (w >= 0).all()
    np.testing.assert_allclose(MeanStacker().fit(X, y).predict_proba(X)[:, 1], X.mean(axis=1))


def test_greedy_with_replacement_weights_complementary_columns() -> None:
    rng = np.random.default_rng(1)
    z1, z2 = rng.normal(size=(2, 3000))
    y = (z1 + z2 + 0.3 * rng.normal(size=3000) > 0).astype(int)
    X = 1 / (1 + np.exp(-np.column_stack([z1, z2, rng.normal(size=3000)])))
    w = GreedyEnsembleSelection(n_iter=30).fit(X, y).weights_
    assert w[0] > 0.3 and w[1] > 0.3 and w[2] < 0.1


def test_logistic_warm_start_reuses_coefficients() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    cold = LogisticStacker(C=10.0).fit(X, y)
    warm = LogisticStacker(C=10.0, warm_start=True).set_state(cold.get_state()).fit(X, y)
    assert warm.n_iter_[0] < cold.n_iter_[0]
    np.testing.assert_allclose(warm.coef_, cold.coef_, atol=1e-3)
