"""Inner patient-grouped validation split and patient bootstrap of a fold's training part."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold


def stratify_key(labels: np.ndarray) -> np.ndarray:
    """One integer per row: the label combination (multi-label aware); rare ones pooled."""
    y = np.asarray(labels).astype(np.int64)
    codes = (y * (1 << np.arange(y.shape[1]))[None, :]).sum(axis=1)
    values, counts = np.unique(codes, return_counts=True)
    rare = values[counts < 10]
    return np.where(np.isin(codes, rare), -1, codes)


def inner_split(
    idx: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    fraction: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Split rows ``idx`` into (train, val), patient-grouped and label-stratified.

    The validation part holds about ``fraction`` of the patients; no patient is on
    both sides.
    """
    n_splits = max(2, round(1.0 / fraction))
    n_groups = len(np.unique(groups[idx]))
    if n_groups < n_splits:
        raise ValueError(
            f"inner validation split needs at least {n_splits} patients, got {n_groups}"
        )
    sgkf = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed % (2**31))
    tr, va = next(sgkf.split(idx, stratify_key(labels[idx]), groups[idx]))
    return idx[tr], idx[va]


def patient_bootstrap(idx: np.ndarray, groups: np.ndarray, seed: int) -> np.ndarray:
    """Resample the patients of ``idx`` with replacement; returns row indices (may repeat)."""
    rng = np.random.default_rng(seed)
    patients, inverse = np.unique(groups[idx], return_inverse=True)
    rows_of = [idx[inverse == i] for i in range(len(patients))]
    draw = rng.integers(0, len(patients), size=len(patients))
    return np.sort(np.concatenate([rows_of[i] for i in draw]))
