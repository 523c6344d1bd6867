"""DeLong fast vs O(n^2), Holm by hand, thresholds chosen on development data only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ensembler.evaluation import (
    choose_threshold,
    delong_test,
    delong_test_naive,
    holm,
    operating_point,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_delong_equals_direct_computation_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = 150
    y = (rng.random(n) < 0.35).astype(int)
    a = np.round(y + rng.normal(size=n), 1)  # coarse rounding: many ties
    b = np.round(0.5 * y + rng.normal(size=n), 1)
    fast, naive = delong_test(y, a, b), delong_test_naive(y, a, b)
    np.testing.assert_allclose(tuple(fast), tuple(naive), rtol=1e-10, atol=1e-12)
    assert fast.auc_a == pytest.approx(roc_auc_score(y, a))
    assert fast.auc_b == pytest.approx(roc_auc_score(y, b))


def test_delong_known_value():
    # hand-checkable: identical models give z = 0, p = 1; a much better model a tiny p
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.5).astype(int)
    a = y * 2.0 + rng.normal(size=400)
    assert delong_test(y, a, a).p_value == 1.0
    res = delong_test(y, a, rng.normal(size=400))
    assert res.z > 5 and res.p_value < 1e-6


def test_holm_hand_example():
    # sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06
    got = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, np.nan, 0.9]), [1.0, np.nan, 1.0])
    np.testing.assert_allclose(holm([0.01, np.nan, 0.04]), [0.02, np.nan, 0.04])


def test_youden_threshold_on_small_example():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.6, 0.4, 0.7, 0.9])
    # p >= 0.7: sens 2/3, spec 1 -> J = 0.667; p >= 0.4: sens 1, spec 2/3 -> J = 0.667
    # tie: higher threshold wins
    assert choose_threshold(y, p)[0] == pytest.approx(0.7)
    assert choose_threshold(y, p, "sensitivity", target=0.8)[0] == pytest.approx(0.4)


def test_threshold_comes_from_development_data_not_test():
    rng = np.random.default_rng(4)
    y_dev = (rng.random((400, 2)) < 0.3).astype(int)
    p_dev = np.clip(0.25 * y_dev + 0.3 * rng.random((400, 2)), 0, 1)  # best cut ~0.3
    y_test = (rng.random((400, 2)) < 0.3).astype(int)
    p_test = np.clip(0.6 + 0.3 * y_test + 0.1 * rng.random((400, 2)), 0, 1)  # best cut ~0.9
    thr = choose_threshold(y_dev, p_dev)
    thr_test = choose_threshold(y_test, p_test)
    assert np.all(thr < 0.6) and np.all(thr_test > 0.85)
    op = operating_point(y_test, p_test, thr, np.arange(400), n_boot=100)
    # the dev threshold sits below every test score: everything is called positive
    for c, pt in enumerate(op.per_class):
        assert pt.threshold == thr[c]
        assert pt.sensitivity.point == 1.0 and pt.specificity.point == 0.0
        assert pt.ppv.point == pytest.approx(y_test[:, c].mean())


def test_operating_point_rates_and_cis():
    rng = np.random.default_rng(5)
    y = (rng.random((500, 1)) < 0.4).astype(int)
    p = np.clip(0.4 * y + 0.6 * rng.random((500, 1)), 0, 1)
    op = operating_point(y, p, [0.5], np.arange(500) // 2, n_boot=300, seed=1)
    pred = p[:, 0] >= 0.5
    tp = (pred & (y[:, 0] == 1)).sum()
    tn = (~pred & (y[:, 0] == 0)).sum()
    pt = op.per_class[0]
    assert pt.sensitivity.point == pytest.approx(tp / y.sum())
    assert pt.specificity.point == pytest.approx(tn / (1 - y).sum())
    assert pt.ppv.point == pytest.approx(tp / pred.sum())
    assert pt.npv.point == pytest.approx(tn / (~pred).sum())
    for est in (pt.sensitivity, pt.specificity, pt.ppv, pt.npv):
        assert est.lo <= est.point <= est.hi and est.hi - est.lo > 0
    assert op.macro["sensitivity"].point == pt.sensitivity.point


def test_threshold_nan_for_class_without_both_labels():
    y = np.zeros((20, 2), dtype=int)
    y[:10, 0] = 1
    thr = choose_threshold(y, np.random.default_rng(0).random((20, 2)))
    assert np.isfinite(thr[0]) and np.isnan(thr[1])
    with pytest.raises(ValueError, match="method"):
        choose_threshold(y, y, method="f1")  # type: ignore[arg-type]
