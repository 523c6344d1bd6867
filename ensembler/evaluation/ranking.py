"""Ranking metrics: ROC AUC and average precision, plain and bootstrap-weighted.

Multi-label inputs are scored per class and macro-averaged over the classes that
have both a positive and a negative row; the others are listed in ``skipped``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import average_precision_score

from ensembler.evaluation._checks import as_labels, as_scores, evaluable_classes
from stacking.metrics import binary_auc

__all__ = ["ClassScores", "average_precision", "roc_auc", "weighted_auc"]


@dataclass(frozen=True)
class ClassScores:
    """A per-class metric and its macro average.

    ``per_class`` is (C,) with NaN for the classes listed in ``skipped`` (no
    positive or no negative row); ``macro`` is the mean over the others (NaN when
    none is left).
    """

    per_class: NDArray[np.float64]
    macro: float
    skipped: tuple[int, ...]


def _per_class(y: ArrayLike, p: ArrayLike, fn: object) -> ClassScores:
    yy = as_labels(y)
    pp = as_scores(p, yy.shape[0], yy.shape[1])
    ok = evaluable_classes(yy)
    out = np.full(yy.shape[1], np.nan)
    for c in np.flatnonzero(ok):
        out[c] = fn(yy[:, c], pp[:, c])  # type: ignore[operator]
    macro = float(np.mean(out[ok])) if ok.any() else float("nan")
    return ClassScores(out, macro, tuple(int(c) for c in np.flatnonzero(~ok)))


def roc_auc(y: ArrayLike, p: ArrayLike) -> ClassScores:
    """ROC AUC per class and macro, by :func:`stacking.metrics.binary_auc`: the project's
    one ROC AUC (the trainer's early stopping, tuning, stacking and this report all use
    it; tested against scikit-learn). It is exact up to one rounding (the Mann-Whitney U
    from average ranks, divided once), so equal AUCs are equal bit for bit.

    Parameters
    ----------
    y : (N,) or (N, C) {0,1} labels.
    p : (N,) or (N, C) scores (any monotone score; probabilities usually).
    """
    return _per_class(y, p, binary_auc)


def average_precision(y: ArrayLike, p: ArrayLike) -> ClassScores:
    """Average precision (area under the precision-recall step curve) per class and macro."""
    return _per_class(y, p, average_precision_score)


def weighted_auc(y: ArrayLike, p: ArrayLike, weights: ArrayLike) -> NDArray[np.float64]:
    """ROC AUC of every class under many row weightings at once.

    A bootstrap resample is a vector of row multiplicities, so the AUC of
    resample ``b`` is the weighted Mann-Whitney statistic
    ``sum_ij w_i w_j ([s_i > s_j] + 0.5 [s_i == s_j]) / (W_pos W_neg)`` over
    positive ``i`` and negative ``j``. Sorting each class's scores once and
    summing weights per block of tied scores gives, for all resamples together,
    the negative weight strictly below each score (a cumulative sum) and at it;
    so the cost is one sort plus O(B * N) per class instead of B sorts.
    (Hand-written: scikit-learn's ``roc_auc_score`` takes one weight vector per call.)

    Parameters
    ----------
    y : (N,) or (N, C) {0,1} labels.
    p : (N,) or (N, C) scores.
    weights : (B, N) non-negative row weights (patient multiplicities per resample).

    Returns
    -------
    (B, C) AUCs; NaN where a resample has no positive or no negative weight for
    a class.
    """
    yy = as_labels(y)
    pp = as_scores(p, yy.shape[0], yy.shape[1])
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[1] != yy.shape[0]:
        raise ValueError(f"weights: expected shape (B, {yy.shape[0]}), got {w.shape}")
    out = np.full((w.shape[0], yy.shape[1]), np.nan)
    for c in range(yy.shape[1]):
        order = np.argsort(pp[:, c], kind="stable")
        s = pp[order, c]
        pos = yy[order, c].astype(bool)
        ws = w[:, order]
        w_pos = np.where(pos, ws, 0.0)  # (B, N)
        w_neg = ws - w_pos
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # first row of each tie block
        if starts.size < s.size:  # ties: sum the weights within each block -> (B, U)
            w_pos = np.add.reduceat(w_pos, starts, axis=1)
            w_neg = np.add.reduceat(w_neg, starts, axis=1)
        neg_below = np.cumsum(w_neg, axis=1) - w_neg
        num = (w_pos * (neg_below + 0.5 * w_neg)).sum(axis=1)
        den = w_pos.sum(axis=1) * w_neg.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, c] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out
