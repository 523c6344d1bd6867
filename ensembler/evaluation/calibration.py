"""Calibration of predicted probabilities: Brier, ECE, slope/intercept, reliability curve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression

from ensembler.evaluation._checks import as_labels, as_probabilities, evaluable_classes
from ensembler.evaluation.ranking import ClassScores

__all__ = [
    "CalibrationFit",
    "ReliabilityCurve",
    "brier",
    "calibration_slope_intercept",
    "expected_calibration_error",
    "reliability_curve",
]

_EPS = 1e-6  # probabilities are clipped to [eps, 1 - eps] before the logit


def brier(y: ArrayLike, p: ArrayLike) -> ClassScores:
    """Brier score (mean squared error of the probability) per class and macro.

    Every class is scored (the Brier score is defined with one label value);
    ``skipped`` is empty.
    """
    yy = as_labels(y)
    pp = as_probabilities(p, yy.shape[0], yy.shape[1])
    per = ((pp - yy) ** 2).mean(axis=0)
    return ClassScores(per, float(per.mean()), ())


def _bin_ids(p: NDArray[np.float64], n_bins: int) -> NDArray[np.intp]:
    """Equal-width bin of each probability, the same binning as sklearn's calibration_curve."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], p).astype(np.intp)


def expected_calibration_error(y: ArrayLike, p: ArrayLike, n_bins: int = 10) -> ClassScores:
    """Expected calibration error with ``n_bins`` equal-width bins, per class and macro.

    ``ECE = sum_b (n_b / N) * |mean(y in b) - mean(p in b)|``; empty bins add nothing.
    """
    if n_bins < 2:
        raise ValueError(f"n_bins: expected at least 2 bins, got {n_bins}")
    yy = as_labels(y)
    pp = as_probabilities(p, yy.shape[0], yy.shape[1])
    n = yy.shape[0]
    per = np.empty(yy.shape[1])
    for c in range(yy.shape[1]):
        ids = _bin_ids(pp[:, c], n_bins)
        gap = np.bincount(ids, weights=yy[:, c] - pp[:, c], minlength=n_bins)
        per[c] = float(np.abs(gap).sum() / n)  # |sum(y - p)| / N = (n_b/N)|mean y - mean p|
    return ClassScores(per, float(per.mean()), ())


@dataclass(frozen=True)
class ReliabilityCurve:
    """Observed frequency vs mean predicted probability in each non-empty bin of one class."""

    prob_true: NDArray[np.float64]
    prob_pred: NDArray[np.float64]
    counts: NDArray[np.int64]


def reliability_curve(y: ArrayLike, p: ArrayLike, n_bins: int = 10) -> list[ReliabilityCurve]:
    """One reliability curve per class (scikit-learn's ``calibration_curve``, plus bin counts)."""
    yy = as_labels(y)
    pp = as_probabilities(p, yy.shape[0], yy.shape[1])
    out = []
    for c in range(yy.shape[1]):
        counts = np.bincount(_bin_ids(pp[:, c], n_bins), minlength=n_bins)
        if yy[:, c].min() == yy[:, c].max():
            # calibration_curve needs both labels present to infer pos_label
            nz = counts > 0
            ids = _bin_ids(pp[:, c], n_bins)
            true = np.bincount(ids, weights=yy[:, c], minlength=n_bins)[nz] / counts[nz]
            pred = np.bincount(ids, weights=pp[:, c], minlength=n_bins)[nz] / counts[nz]
        else:
            true, pred = calibration_curve(yy[:, c], pp[:, c], n_bins=n_bins, strategy="uniform")
        out.append(ReliabilityCurve(true, pred, counts[counts > 0].astype(np.int64)))
    return out


@dataclass(frozen=True)
class CalibrationFit:
    """Per-class calibration slope and intercept (NaN for a class without both labels)."""

    slope: NDArray[np.float64]
    intercept: NDArray[np.float64]


def calibration_slope_intercept(y: ArrayLike, p: ArrayLike) -> CalibrationFit:
    """Logistic recalibration on the logit of the predicted probability, per class.

    ``slope`` is b in ``logit P(y=1) = a + b * logit(p)`` (unpenalised maximum
    likelihood; 1 is ideal, < 1 means over-confident predictions).
    ``intercept`` is calibration-in-the-large, a in
    ``logit P(y=1) = a + logit(p)`` with the slope fixed at 1 (0 is ideal,
    > 0 means risks are under-estimated), as recommended by Van Calster et al.
    (2019), because the intercept of the two-parameter fit depends on the slope.
    """
    yy = as_labels(y)
    pp = as_probabilities(p, yy.shape[0], yy.shape[1])
    z = logit(np.clip(pp, _EPS, 1.0 - _EPS))
    ok = evaluable_classes(yy)
    slope = np.full(yy.shape[1], np.nan)
    inter = np.full(yy.shape[1], np.nan)
    for c in np.flatnonzero(ok):
        lr = LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=200)
        lr.fit(z[:, [c]], yy[:, c])
        slope[c] = float(lr.coef_[0, 0])
        yc, zc = yy[:, c], z[:, c]

        # score equation of the offset model, strictly decreasing in a (hand-written:
        # scikit-learn's LogisticRegression has no offset term)
        def score(a: float, yc: NDArray[np.int8] = yc, zc: NDArray[np.float64] = zc) -> float:
            return float(np.sum(yc - expit(a + zc)))

        inter[c] = float(brentq(score, -50.0, 50.0, xtol=1e-10))
    return CalibrationFit(slope, inter)
