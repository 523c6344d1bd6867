"""Conformal calibration: the coverage guarantee on exchangeable data, crepes parity, JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from ensembler.conformal import (
    ConformalCalibration,
    ConformalError,
    calibrate_conformal,
    crepes_sets,
    prediction_sets,
)


def _draw(rng: np.random.Generator, n_neg: int, n_pos: int) -> tuple[np.ndarray, np.ndarray]:
    """One class: continuous probabilities (no ties), label-dependent Beta scores."""
    y = np.r_[np.zeros(n_neg, int), np.ones(n_pos, int)]
    p = np.where(y == 1, rng.beta(4, 2, y.size), rng.beta(2, 4, y.size))
    return p[:, None], y[:, None]


def _crepes_rank_count(n: int, alpha: float) -> int:
    """How many of the n + 1 ranks of a new score crepes' set accepts: crepes keeps a
    label when its p-value (count of calibration scores >= it, + 1) / (n + 1) is
    >= 1 - confidence (Vovk's definition uses >; the two differ only when
    alpha (n + 1) is an integer, where crepes covers 1 / (n + 1) more)."""
    least = min(c for c in range(n + 1) if (c + 1) / (n + 1) >= 1 - (1 - alpha))
    return n + 1 - least


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_label_conditional_coverage_matches_the_exact_law(alpha: float) -> None:
    """With n calibration scores of a label, a new exchangeable score of that label is
    covered with probability k / (n + 1) (k from the set rule), which lies in
    [1 - alpha, 1 - alpha + 1 / (n + 1)). n = 23 keeps alpha (n + 1) non-integer for the
    three alphas. Per repetition the coverage of T test scores averages
    Beta(k, n + 1 - k) plus binomial noise, so the mean over R repetitions has variance
    (Var B + E[B(1 - B)] / T) / R: the tolerance is 4 of those standard errors. A
    quantile without the (n + 1) correction (np.quantile at 1 - alpha) misses by about
    0.05 and fails here."""
    n, reps, n_test = 23, 300, 200
    k = _crepes_rank_count(n, alpha)
    expected = k / (n + 1)
    assert 1 - alpha <= expected < 1 - alpha + 1 / (n + 1)
    beta = stats.beta(k, n + 1 - k)
    var_rep = beta.var() + (beta.mean() - beta.var() - beta.mean() ** 2) / n_test
    tol = 4 * math.sqrt(var_rep / reps)
    rng = np.random.default_rng(20261130)
    cov = np.zeros((reps, 2))
    for r in range(reps):
        p_cal, y_cal = _draw(rng, n, n)
        calib = calibrate_conformal(p_cal, y_cal, np.arange(2 * n), alpha, ["c"])
        p_te, y_te = _draw(rng, n_test, n_test)
        sets = prediction_sets(calib, p_te)
        hit = sets[np.arange(y_te.shape[0]), 0, y_te[:, 0]]
        cov[r] = [hit[y_te[:, 0] == 0].mean(), hit[y_te[:, 0] == 1].mean()]
    for label in (0, 1):
        assert abs(cov[:, label].mean() - expected) <= tol, (label, cov[:, label].mean(), tol)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_multilabel_marginal_coverage_per_class(alpha: float) -> None:
    """Three classes with different prevalence, 3000 calibration / 3000 test records:
    per class, coverage lies within 4 standard errors of 1 - alpha. The error of a
    class is dominated by its rarer label's calibration quantile (Beta, variance about
    alpha (1 - alpha) / n_rare) plus test binomial noise (alpha (1 - alpha) / n), so
    the tolerance is per class: +-0.038 for prevalence 0.5, +-0.08 for 0.08 at alpha 0.1."""
    rng = np.random.default_rng(7)
    n = 3000
    prev = np.array([0.5, 0.2, 0.08])
    y = (rng.random((2 * n, 3)) < prev).astype(int)
    p = np.where(y == 1, rng.beta(3, 2, y.shape), rng.beta(2, 3, y.shape))
    calib = calibrate_conformal(p[:n], y[:n], np.arange(n), alpha, ["a", "b", "c"])
    sets = prediction_sets(calib, p[n:])
    covered = np.take_along_axis(sets, y[n:, :, None], axis=2)[:, :, 0].mean(axis=0)
    rare = n * np.minimum(prev, 1 - prev)
    tol = 4 * np.sqrt(alpha * (1 - alpha) * (1 / n + 1 / rare))
    assert np.all(np.abs(covered - (1 - alpha)) <= tol), (covered, tol)


def test_quantiles_reproduce_crepes_sets_exactly_with_ties() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random((400, 2)) < [0.3, 0.1]).astype(int)
    p = np.round(np.clip(np.where(y == 1, 0.6, 0.4) + rng.normal(0, 0.2, y.shape), 0, 1), 2)
    p_new = np.round(rng.random((300, 2)), 2)
    for alpha in (0.05, 0.1, 0.2, 0.33):
        calib = calibrate_conformal(p, y, np.arange(400), alpha, ["a", "b"])
        np.testing.assert_array_equal(prediction_sets(calib, p_new),
                                      crepes_sets(p, y, p_new, alpha))


def test_too_few_positives_keep_the_positive_label_in_every_set() -> None:
    y = np.r_[np.zeros(100, int), np.ones(5, int)][:, None]  # 5 < ceil(1/0.1) - 1
    p = np.linspace(0.01, 0.99, 105)[:, None]
    calib = calibrate_conformal(p, y, np.arange(105), 0.1, ["rare"])
    assert calib.classes[0].q_pos is None and calib.classes[0].q_neg is not None
    assert prediction_sets(calib, np.array([[0.0], [0.5]]))[:, 0, 1].all()


def test_json_round_trip_and_provenance() -> None:
    rng = np.random.default_rng(1)
    p, y = _draw(rng, 50, 30)
    groups = np.repeat(np.arange(40), 2)
    calib = calibrate_conformal(p, y, groups, 0.1, ["MI"])
    back = ConformalCalibration.from_dict(json.loads(json.dumps(calib.to_dict())))
    assert back == calib
    assert "of 40 development patients" in calib.provenance
    assert calib.library.startswith("crepes ")


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.update(alpha=1.5), "alpha"),
    (lambda d: d.update(format_version=99), "format_version"),
    (lambda d: d["classes"][0].update(q_pos="x"), "classes[0].q_pos"),
    (lambda d: d["classes"][0].update(n_pos=-1), "classes[0].n_pos"),
    (lambda d: d.update(classes=[]), "classes"),
])
def test_malformed_calibration_names_the_field(mutate, field) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    p, y = _draw(rng, 20, 20)
    doc = calibrate_conformal(p, y, np.arange(40), 0.1, ["MI"]).to_dict()
    mutate(doc)
    with pytest.raises(ConformalError, match=field.replace("[", r"\[").replace("]", r"\]")):
        ConformalCalibration.from_dict(doc, where="bundle/conformal.json")


def test_bad_inputs_are_named() -> None:
    p = np.full((10, 1), 0.5)
    y = np.zeros((10, 1), int)
    with pytest.raises(ConformalError, match="alpha"):
        calibrate_conformal(p, y, np.arange(10), 0.0, ["a"])
    with pytest.raises(ConformalError, match="class_names"):
        calibrate_conformal(p, y, np.arange(10), 0.1, ["a", "b"])
    with pytest.raises(ValueError, match="probabilities must lie in"):
        calibrate_conformal(p + 1, y, np.arange(10), 0.1, ["a"])
