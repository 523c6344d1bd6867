"""Selective prediction from conformal sets: keep an ECG only when every set is a singleton.

An ECG is *kept* when, for every class, exactly one label is in its prediction set;
the kept ECG's decision is those singletons. Otherwise it is referred (abstained):
some class is ambiguous (both labels) or empty (neither label fits the calibration).

The error rate among kept ECGs and the fraction kept are **measured** on the data
they are evaluated on; the per-class conformal guarantee does not bound them (that
would need conformal risk control or Learn-then-Test, which this module does not do).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ensembler.conformal.calibrate import ConformalError

__all__ = ["as_sets", "kept_and_decisions", "set_labels"]


def as_sets(sets: ArrayLike) -> NDArray[np.bool_]:
    """Validate (N, C, 2) boolean set membership (label 0, label 1)."""
    arr = np.asarray(sets)
    if arr.ndim != 3 or arr.shape[2] != 2 or arr.shape[0] == 0:
        raise ConformalError(f"sets: expected shape (N, C, 2), got {arr.shape}")
    return arr.astype(bool)


def kept_and_decisions(sets: ArrayLike) -> tuple[NDArray[np.bool_], NDArray[np.int8]]:
    """Which ECGs are kept and what the sets decide.

    Parameters
    ----------
    sets : (N, C, 2) membership from :func:`~ensembler.conformal.prediction_sets`.

    Returns
    -------
    kept : (N,) True when every class's set is a singleton.
    decision : (N, C) int8, the singleton label per class, -1 where the set is
        empty or holds both labels.
    """
    s = as_sets(sets)
    single = s.sum(axis=2) == 1
    decision = np.where(single, s[:, :, 1].astype(np.int8), np.int8(-1)).astype(np.int8)
    return single.all(axis=1), decision


def set_labels(sets: ArrayLike) -> list[list[list[int]]]:
    """The sets as lists of labels per record and class, e.g. ``[[0], [0, 1]]``."""
    s = as_sets(sets)
    return [[[lab for lab in (0, 1) if s[i, c, lab]] for c in range(s.shape[1])]
            for i in range(s.shape[0])]
