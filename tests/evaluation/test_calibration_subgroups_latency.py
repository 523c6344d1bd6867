"""Calibration vs scikit-learn / known generating models, subgroups, latency."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score

from ensembler.evaluation import (
    brier,
    calibration_slope_intercept,
    expected_calibration_error,
    measure_latency,
    reliability_curve,
    subgroup_auc,
)


def test_brier_matches_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.random((300, 3)) < 0.3).astype(int)
    p = rng.random((300, 3))
    b = brier(y, p)
    for c in range(3):
        assert b.per_class[c] == pytest.approx(brier_score_loss(y[:, c], p[:, c]))
    assert b.macro == pytest.approx(np.mean(b.per_class))


def test_ece_by_hand_and_reliability_vs_sklearn():
    y = np.array([0, 1, 1, 1, 0, 0])
    p = np.array([0.12, 0.17, 0.93, 0.96, 0.94, 0.55])
    # 10 bins: {0.12, 0.17} -> |1/2 - 0.145| * 2/6; {0.55} -> 0.55 * 1/6;
    # {0.93, 0.94, 0.96} -> |2/3 - 0.9433| * 3/6
    expect = 0.355 * 2 / 6 + 0.55 / 6 + abs(2 / 3 - 2.83 / 3) * 3 / 6
    assert expected_calibration_error(y, p, 10).per_class[0] == pytest.approx(expect)
    rng = np.random.default_rng(1)
    yy = (rng.random(500) < 0.3).astype(int)
    pp = rng.random(500)
    curve = reliability_curve(yy, pp, n_bins=7)[0]
    t, q = calibration_curve(yy, pp, n_bins=7)
    np.testing.assert_allclose(curve.prob_true, t)
    np.testing.assert_allclose(curve.prob_pred, q)
    assert curve.counts.sum() == 500


def test_calibration_recovers_generating_slope_and_intercept():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.02, 0.98, size=(20000, 2))
    # class 0 perfectly calibrated; class 1 drawn from logit P = 0.5 + 0.5 * logit(p)
    y0 = rng.random(20000) < p[:, 0]
    y1 = rng.random(20000) < expit(0.5 + 0.5 * logit(p[:, 1]))
    fit = calibration_slope_intercept(np.c_[y0, y1].astype(int), p)
    assert fit.slope[0] == pytest.approx(1.0, abs=0.05)
    assert fit.intercept[0] == pytest.approx(0.0, abs=0.05)
    assert fit.slope[1] == pytest.approx(0.5, abs=0.05)
    # calibration-in-the-large is positive: predictions under-estimate the risk on average
    assert fit.intercept[1] > 0.1
    ece = expected_calibration_error(np.c_[y0, y1].astype(int), p, 10)
    assert ece.per_class[0] < 0.02 < ece.per_class[1]


def test_subgroup_auc_values_and_small_flag():
    rng = np.random.default_rng(3)
    n = 400
    y = (rng.random((n, 2)) < 0.4).astype(int)
    p = y + rng.normal(size=(n, 2))
    sex = np.where(rng.random(n) < 0.5, "F", "M").astype(object)
    sex[:12] = None
    rows = subgroup_auc(y, p, np.arange(n) // 2, sex, min_n=30, n_boot=200, seed=0)
    assert [r.value for r in rows] == ["(missing)", "F", "M"]
    for r in rows[1:]:
        idx = np.flatnonzero(sex == r.value)
        assert r.n == idx.size
        assert r.auc == pytest.approx(roc_auc_score(y[idx], p[idx], average="macro"))
        assert r.lo < r.auc < r.hi and not r.small
    assert rows[0].n == 12 and rows[0].small


def test_measure_latency_per_ecg():
    """A fake clock: each call "takes" (2 + 0.1 * batch) ms, plus r ms on timed repeat r."""
    now = [0.0]
    calls = []

    def predict(bs: int) -> None:
        calls.append(bs)
        timed_repeat = max(0, calls.count(bs) - 2)  # the first call is the warmup
        now[0] += (0.002 + 0.0001 * bs) + 0.001 * timed_repeat

    out = measure_latency(predict, batch_sizes=(1, 8), repeats=3, warmup=1,
                          clock=lambda: now[0])
    assert calls.count(1) == 4 and calls.count(8) == 4
    # batch 1: 2.1, 3.1, 4.1 ms; batch 8: (2.8, 3.8, 4.8) / 8 ms per ECG
    assert out[1].p50_ms == pytest.approx(3.1)
    assert out[1].p95_ms == pytest.approx(np.percentile([2.1, 3.1, 4.1], 95))
    assert out[8].p50_ms == pytest.approx(3.8 / 8)
    assert out[1].repeats == 3
