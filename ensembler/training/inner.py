"""Inner patient-grouped validation split, patient bootstrap and nested patient subsets of a
fold's training part."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ensembler.utils.seeds import derive_seed


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
    with warnings.catch_warnings():
        # the pooled stratum of rare label combinations may hold fewer rows than n_splits;
        # sklearn then says so on every split (nothing a user can act on) and still
        # splits every patient into exactly one part
        warnings.filterwarnings("ignore", message="The least populated class in y has only",
                                category=UserWarning)
        tr, va = next(sgkf.split(idx, stratify_key(labels[idx]), groups[idx]))
    return idx[tr], idx[va]


def patient_bootstrap(idx: np.ndarray, groups: np.ndarray, seed: int) -> np.ndarray:
    """Resample the patients of ``idx`` with replacement; returns row indices (may repeat)."""
    rng = np.random.default_rng(seed)
    patients, inverse = np.unique(groups[idx], return_inverse=True)
    rows_of = [idx[inverse == i] for i in range(len(patients))]
    draw = rng.integers(0, len(patients), size=len(patients))
    return np.sort(np.concatenate([rows_of[i] for i in draw]))


@dataclass(frozen=True)
class PatientSubset:
    """A random share of the patients of each fold's training part (a learning curve's point).

    Fold ``k``'s patients are put in one random order seeded by (``seed``, ``k``) alone, and
    the first ``fraction`` of them are kept: subsets of one seed are nested (the 50 % patients
    are inside the 75 % ones) and every member sees the same patients.
    """

    fraction: float
    seed: int

    def rows(self, train_part: np.ndarray, groups: np.ndarray, fold: int) -> np.ndarray:
        """The rows of ``train_part`` (indices into ``groups``, the (N,) patient ids) whose
        patient is kept for fold ``fold``; every record of a kept patient stays."""
        patients = np.unique(groups[train_part])
        order = np.random.default_rng(derive_seed(self.seed, "subset", fold)).permutation(patients)
        keep = order[: max(1, round(self.fraction * len(patients)))]
        return train_part[np.isin(groups[train_part], keep)]

    def describe(self) -> dict[str, Any]:
        return {"fraction": self.fraction, "seed": self.seed}
