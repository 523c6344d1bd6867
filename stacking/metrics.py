"""Pure metric functions used inside the stacking search (fast paths, tested vs scikit-learn)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

__all__ = ["binary_auc", "binary_log_loss", "macro_auc"]


def binary_auc(y: NDArray, score: NDArray) -> float:
    """ROC AUC of (n,) {0,1} labels ``y`` against (n,) scores (ties count 1/2).

    The project's one ROC AUC implementation (``ensembler.evaluation.roc_auc`` and the
    trainer use it too). Mann-Whitney U from average ranks: one sort, ~10x faster than
    ``sklearn.metrics.roc_auc_score`` on the hot path of greedy selection, and exact up to
    the final division (scikit-learn's trapezoid sum can differ in the last bits).
    Returns NaN when ``y`` holds a single class.
    """
    y = np.asarray(y).ravel().astype(bool)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    s = np.asarray(score, dtype=np.float64).ravel()
    order = np.argsort(s)
    s_sorted = s[order]
    if np.any(s_sorted[1:] == s_sorted[:-1]):  # ties: average ranks
        rank_sum = float(rankdata(s)[y].sum())
    else:  # no ties: the rank of a row is its position in the sort (1-based)
        rank_sum = float(np.flatnonzero(y[order]).sum() + n_pos)
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def macro_auc(y: NDArray, proba: NDArray) -> float:
    """Mean per-class AUC of (N, C) labels and (N, C) scores, over classes with both labels."""
    y = np.asarray(y)
    proba = np.asarray(proba)
    if y.ndim == 1:
        y, proba = y[:, None], proba.reshape(-1, 1)
    aucs = [binary_auc(y[:, j], proba[:, j]) for j in range(y.shape[1])]
    finite = [a for a in aucs if np.isfinite(a)]
    return float(np.mean(finite)) if finite else float("nan")


def binary_log_loss(y: NDArray, p: NDArray, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy of {0,1} ``y`` and probabilities ``p`` (any equal shape)."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1.0 - eps)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))
