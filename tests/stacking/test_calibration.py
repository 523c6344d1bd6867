"""Calibration choice by cross-validated log-loss, JSON state, member calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit

from stacking import CALIBRATION_METHODS, Calibrator, calibrate_member, choose_calibration
from stacking.metrics import binary_log_loss


def _overconfident(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2)) * 1.5
    y = (rng.random((n, 2)) < expit(z)).astype(int)
    p = expit(3.0 * z)  # right ranking, three times too confident
    folds = rng.integers(0, 4, n)
    return p, y, folds


def test_chooses_a_real_calibration_for_overconfident_scores() -> None:
    p, y, folds = _overconfident()
    choice = choose_calibration(p, y, folds)
    assert choice.method in ("platt", "temperature")
    assert choice.scores[choice.method] < choice.scores["none"] - 0.05
    assert binary_log_loss(y, choice.oof) == pytest.approx(choice.scores[choice.method])
    t = choice.calibrator if choice.method == "temperature" else Calibrator.fit("temperature", p, y)
    assert 2.5 < t.params[0]["t"] < 3.5  # recovers the planted temperature


def test_well_calibrated_scores_keep_none_or_near() -> None:
    rng = np.random.default_rng(1)
    p = rng.random((4000, 1))
    y = (rng.random((4000, 1)) < p).astype(int)
    choice = choose_calibration(p, y, rng.integers(0, 4, 4000))
    assert choice.scores["none"] <= min(choice.scores.values()) + 0.005


@pytest.mark.parametrize("method", CALIBRATION_METHODS)
def test_json_roundtrip_and_monotone(method: str) -> None:
    p, y, _ = _overconfident(800)
    cal = Calibrator.fit(method, p, y)
    again = Calibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    grid = np.tile(np.linspace(0.001, 0.999, 101)[:, None], (1, 2))
    np.testing.assert_array_equal(again.transform(grid), cal.transform(grid))
    assert np.all(np.diff(cal.transform(grid), axis=0) >= -1e-12)


def test_calibrate_member_maps_each_fold_set() -> None:
    p, y, folds = _overconfident(1000)
    test = np.stack([p[:100], p[100:200]])
    choice, out = calibrate_member(p, y, folds, test)
    assert out is not None and out.shape == (2, 100, 2)
    np.testing.assert_allclose(out[1], choice.calibrator.transform(p[100:200]))


def test_bad_inputs() -> None:
    p, y, folds = _overconfident(100)
    with pytest.raises(ValueError, match="must agree"):
        choose_calibration(p, y[:50], folds)
    with pytest.raises(ValueError, match="unknown calibration method 'beta'"):
        Calibrator.fit("beta", p, y)
