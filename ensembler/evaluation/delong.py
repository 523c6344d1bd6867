"""DeLong's test for two correlated ROC AUCs, and Holm's step-down correction.

Secondary statistic of the report: it treats records as independent, so it is
given per class next to the primary patient-cluster bootstrap, never instead of it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm, rankdata

__all__ = ["DeLongResult", "delong_test", "delong_test_naive", "holm"]


class DeLongResult(NamedTuple):
    """AUCs of both models, the z statistic of ``auc_a - auc_b`` and its two-sided p."""

    auc_a: float
    auc_b: float
    z: float
    p_value: float


def _check(
    y: ArrayLike, p_a: ArrayLike, p_b: ArrayLike
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    yy = np.asarray(y)
    if yy.ndim != 1 or not np.isin(yy, (0, 1)).all():
        raise ValueError(f"y: expected (N,) binary 0/1 labels, got shape {yy.shape}")
    scores = np.vstack([np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64)])
    if scores.shape != (2, yy.shape[0]) or not np.isfinite(scores).all():
        raise ValueError(
            f"p_a, p_b: expected two finite (N,) score vectors with N = {yy.shape[0]}, "
            f"got shapes {np.shape(p_a)} and {np.shape(p_b)}"
        )
    pos = yy.astype(bool)
    if pos.all() or not pos.any():
        raise ValueError("y: DeLong's test needs at least one positive and one negative row")
    return pos, scores


def _finish(
    aucs: NDArray[np.float64], v10: NDArray[np.float64], v01: NDArray[np.float64]
) -> DeLongResult:
    """Combine structural components (2, m) and (2, n) into the test statistic."""
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.cov(v10) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(v01) if n > 1 else np.zeros((2, 2))
    cov = s10 / m + s01 / n
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    diff = float(aucs[0] - aucs[1])
    if var <= 1e-15:
        z = 0.0 if abs(diff) < 1e-15 else float(np.sign(diff) * np.inf)
    else:
        z = diff / np.sqrt(var)
    return DeLongResult(float(aucs[0]), float(aucs[1]), float(z), float(2.0 * norm.sf(abs(z))))


def delong_test(y: ArrayLike, p_a: ArrayLike, p_b: ArrayLike) -> DeLongResult:
    """DeLong's paired test in O(n log n) via midranks (Sun & Xu, 2014).

    Parameters
    ----------
    y : (N,) binary labels; p_a, p_b : (N,) scores of the two models on the same rows.

    Notes
    -----
    With ``m`` positives and ``n`` negatives, the placement values are
    ``V10_i = (R_i - Rpos_i) / n`` and ``V01_j = 1 - (R_j - Rneg_j) / m`` where
    ``R`` is the midrank among all rows and ``Rpos``/``Rneg`` among the
    positives/negatives only; ties count one half as in the Mann-Whitney U.
    """
    pos, scores = _check(y, p_a, p_b)
    m, n = int(pos.sum()), int((~pos).sum())
    x, yneg = scores[:, pos], scores[:, ~pos]
    tz = rankdata(np.hstack([x, yneg]), axis=1)
    tx = rankdata(x, axis=1)
    ty = rankdata(yneg, axis=1)
    aucs = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return _finish(aucs, v10, v01)


def delong_test_naive(y: ArrayLike, p_a: ArrayLike, p_b: ArrayLike) -> DeLongResult:
    """Direct O(m * n) DeLong test from the pairwise kernel; the reference for tests."""
    pos, scores = _check(y, p_a, p_b)
    x, yneg = scores[:, pos], scores[:, ~pos]
    psi = (x[:, :, None] > yneg[:, None, :]) + 0.5 * (x[:, :, None] == yneg[:, None, :])
    v10 = psi.mean(axis=2)  # (2, m)
    v01 = psi.mean(axis=1)  # (2, n)
    return _finish(psi.mean(axis=(1, 2)), v10, v01)


def holm(pvalues: ArrayLike) -> NDArray[np.float64]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    The i-th smallest of m p-values is multiplied by ``m - i`` (i from 0), then a
    running maximum keeps the adjusted values monotone, capped at 1. NaN inputs
    (untestable classes) stay NaN and do not count towards m.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pvalues: expected a 1-D array, got shape {p.shape}")
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    if (p[ok] < 0).any() or (p[ok] > 1).any():
        raise ValueError("pvalues: expected values in [0, 1]")
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    adj = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out[order] = adj
    return out
