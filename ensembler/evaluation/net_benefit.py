"""Decision-curve analysis (Vickers & Elkin 2006; TRIPOD+AI): net benefit per threshold.

Net benefit of treating the records with ``p >= pt``:
``TP / N - FP / N * pt / (1 - pt)``; "treat all" is ``prev - (1 - prev) * pt / (1 - pt)``
and "treat none" is 0. Hand-written: scikit-learn has no decision curve.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ensembler.evaluation._checks import as_labels, as_probabilities

__all__ = ["net_benefit", "treat_all_net_benefit"]


def _thresholds(thresholds: ArrayLike) -> NDArray[np.float64]:
    t = np.asarray(thresholds, dtype=np.float64).ravel()
    if t.size == 0 or t.min() <= 0.0 or t.max() >= 1.0:
        raise ValueError("thresholds: expected threshold probabilities strictly inside (0, 1)")
    return t


def net_benefit(y: ArrayLike, p: ArrayLike, thresholds: ArrayLike) -> NDArray[np.float64]:
    """(T, C) net benefit of each class's model at each threshold probability.

    Parameters
    ----------
    y : (N,) or (N, C) labels; p : matching probabilities; thresholds : (T,) in (0, 1).
    """
    yy = as_labels(y)
    pp = as_probabilities(p, yy.shape[0], yy.shape[1])
    t = _thresholds(thresholds)
    n = yy.shape[0]
    treat = pp[None, :, :] >= t[:, None, None]  # (T, N, C)
    tp = (treat & (yy[None] == 1)).sum(axis=1) / n
    fp = (treat & (yy[None] == 0)).sum(axis=1) / n
    return np.asarray(tp - fp * (t / (1.0 - t))[:, None], dtype=np.float64)


def treat_all_net_benefit(y: ArrayLike, thresholds: ArrayLike) -> NDArray[np.float64]:
    """(T, C) net benefit of treating every record."""
    yy = as_labels(y)
    t = _thresholds(thresholds)
    prev = yy.mean(axis=0)
    return np.asarray(prev[None, :] - (1.0 - prev[None, :]) * (t / (1.0 - t))[:, None],
                      dtype=np.float64)
