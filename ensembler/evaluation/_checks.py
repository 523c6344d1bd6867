"""Input validation shared by the metric functions (errors name the argument)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ensembler.errors import PredictionsError


def as_labels(y: ArrayLike, name: str = "y") -> NDArray[np.int8]:
    """Return ``y`` as an (N, C) int8 {0,1} array; a 1-D input becomes (N, 1)."""
    arr = np.asarray(y)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise PredictionsError(f"{name}: expected labels of shape (N,) or (N, C), got {arr.shape}")
    if not np.isin(arr, (0, 1)).all():
        bad = np.unique(arr[~np.isin(arr, (0, 1))])[:5]
        raise PredictionsError(f"{name}: labels must be 0/1, found values {bad.tolist()}")
    return arr.astype(np.int8)


def as_scores(p: ArrayLike, n_rows: int, n_cols: int, name: str = "p") -> NDArray[np.float64]:
    """Return ``p`` as a finite (N, C) float64 array matching the labels' shape."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape != (n_rows, n_cols):
        raise PredictionsError(
            f"{name}: expected scores of shape ({n_rows}, {n_cols}) to match the labels, "
            f"got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        n_bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise PredictionsError(f"{name}: {n_bad} row(s) contain NaN or inf scores")
    return arr


def as_probabilities(
    p: ArrayLike, n_rows: int, n_cols: int, name: str = "p"
) -> NDArray[np.float64]:
    """Like :func:`as_scores` but also requires every value in [0, 1]."""
    arr = as_scores(p, n_rows, n_cols, name)
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise PredictionsError(
            f"{name}: probabilities must lie in [0, 1], "
            f"got range [{arr.min():.4g}, {arr.max():.4g}]"
        )
    return arr


def as_groups(groups: ArrayLike, n_rows: int, name: str = "groups") -> NDArray[np.intp]:
    """Return patient ids (any hashable dtype) as dense codes 0..G-1, shape (N,)."""
    arr = np.asarray(groups)
    if arr.ndim != 1 or arr.shape[0] != n_rows:
        raise PredictionsError(
            f"{name}: expected one patient id per row, shape ({n_rows},), got {arr.shape}"
        )
    _, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.intp)


def evaluable_classes(y: NDArray[np.int8]) -> NDArray[np.bool_]:
    """(C,) mask of classes with at least one positive and one negative row."""
    pos = y.sum(axis=0)
    return (pos > 0) & (pos < y.shape[0])
