"""Patient-level cluster bootstrap: confidence intervals and paired differences.

Patients, not records, are resampled with replacement (several ECGs of one
patient are not independent). A resample is represented by row weights, the
multiplicity of each row's patient, so every metric written for weights
(:func:`~ensembler.evaluation.ranking.weighted_auc`, the confusion counts of
:mod:`~ensembler.evaluation.threshold`) scores all resamples in one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ensembler.evaluation._checks import as_groups, as_labels, as_scores, evaluable_classes
from ensembler.evaluation.ranking import weighted_auc

__all__ = [
    "BootstrapCI",
    "PairedDelta",
    "bootstrap_p_value",
    "cluster_bootstrap",
    "macro_auc_samples",
    "paired_bootstrap_delta",
    "paired_delta_from_samples",
    "patient_weights",
    "percentile_ci",
]

WeightedMetric = Callable[[NDArray[np.int8], NDArray[np.float64], NDArray[np.float64]], ArrayLike]


class BootstrapCI(NamedTuple):
    """Point estimate on the full data, percentile CI, and the (B,) resample values."""

    point: float
    lo: float
    hi: float
    samples: NDArray[np.float64]


class PairedDelta(NamedTuple):
    """``metric(a) - metric(b)`` on the same rows, its percentile CI and two-sided p."""

    delta: float
    lo: float
    hi: float
    p_value: float


def patient_weights(groups: ArrayLike, n_boot: int = 1000, seed: int = 0) -> NDArray[np.float64]:
    """Row weights of ``n_boot`` patient-level resamples.

    Each resample draws G patients with replacement out of the G distinct ids in
    ``groups``; a row's weight is how often its patient was drawn. Same
    ``(groups, n_boot, seed)`` gives the same weights.

    Parameters
    ----------
    groups : (N,) patient id of each row (any dtype).

    Returns
    -------
    (n_boot, N) float64 weights; each row sums to the number of records drawn.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot: expected a positive number of resamples, got {n_boot}")
    raw = np.asarray(groups)
    codes = as_groups(raw, raw.shape[0] if raw.ndim == 1 else 0)
    n_groups = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_groups, size=(n_boot, n_groups))
    offsets = (np.arange(n_boot) * n_groups)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=n_boot * n_groups)
    return counts.reshape(n_boot, n_groups)[:, codes].astype(np.float64)


def percentile_ci(samples: ArrayLike, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile interval of the finite resample values (NaN, NaN when none is finite)."""
    s = np.asarray(samples, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(s, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def bootstrap_p_value(delta_samples: ArrayLike) -> float:
    """Two-sided p of ``H0: delta = 0`` from resampled differences.

    Twice the smaller tail mass at zero, with the +1 correction that keeps a
    finite number of resamples from reporting p = 0; it inverts the percentile
    CI (p < alpha exactly when 0 lies outside the 1 - alpha interval, up to ties).
    """
    d = np.asarray(delta_samples, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    n = d.size
    lower = (1 + np.count_nonzero(d <= 0)) / (n + 1)
    upper = (1 + np.count_nonzero(d >= 0)) / (n + 1)
    return float(min(1.0, 2.0 * min(lower, upper)))


def macro_auc_samples(
    y: NDArray[np.int8], p: NDArray[np.float64], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    """(B,) macro AUC per resample over the classes evaluable on the full data.

    A resample in which one of those classes lost all its positives (or
    negatives) is NaN rather than averaged over fewer classes, so every finite
    value estimates the same quantity.
    """
    ok = evaluable_classes(y)
    if not ok.any():
        return np.full(weights.shape[0], np.nan)
    return weighted_auc(y[:, ok], p[:, ok], weights).mean(axis=1)


def _resolve_metric(metric: str | WeightedMetric) -> WeightedMetric:
    if callable(metric):
        return metric
    if metric in ("macro_auc", "auc"):
        return macro_auc_samples
    raise ValueError(
        f"metric: expected 'macro_auc' or a callable(y, p, weights) -> (B,), got {metric!r}"
    )


def cluster_bootstrap(
    y: ArrayLike,
    p: ArrayLike,
    groups: ArrayLike,
    metric: str | WeightedMetric = "macro_auc",
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> BootstrapCI:
    """Patient-cluster bootstrap CI of a metric.

    Parameters
    ----------
    y : (N,) or (N, C) {0,1} labels.
    p : (N,) or (N, C) scores.
    groups : (N,) patient ids; all rows of a patient are resampled together.
    metric : ``"macro_auc"`` or a callable ``(y (N,C), p (N,C), weights (B,N)) -> (B,)``
        evaluated on weights (the point estimate uses all-ones weights).
    """
    yy = as_labels(y)
    pp = as_scores(p, yy.shape[0], yy.shape[1])
    fn = _resolve_metric(metric)
    w = patient_weights(as_groups(groups, yy.shape[0]), n_boot, seed)
    point = float(np.asarray(fn(yy, pp, np.ones((1, yy.shape[0]))))[0])
    samples = np.asarray(fn(yy, pp, w), dtype=np.float64)
    lo, hi = percentile_ci(samples, alpha)
    return BootstrapCI(point, lo, hi, samples)


def paired_delta_from_samples(
    point_a: float,
    point_b: float,
    samples_a: ArrayLike,
    samples_b: ArrayLike,
    alpha: float = 0.05,
) -> PairedDelta:
    """Paired difference from two models' metric values on the *same* resamples."""
    d = np.asarray(samples_a, dtype=np.float64) - np.asarray(samples_b, dtype=np.float64)
    lo, hi = percentile_ci(d, alpha)
    return PairedDelta(float(point_a - point_b), lo, hi, bootstrap_p_value(d))


def paired_bootstrap_delta(
    y: ArrayLike,
    p_a: ArrayLike,
    p_b: ArrayLike,
    groups: ArrayLike,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    metric: str | WeightedMetric = "macro_auc",
) -> PairedDelta:
    """Paired patient-cluster bootstrap of ``metric(p_a) - metric(p_b)`` on the same rows.

    Both models are scored on the same resamples, so the CI reflects the
    correlation between them; this is the primary comparison statistic.

    Parameters
    ----------
    y : (N,) or (N, C) labels; p_a, p_b : scores of the same shape; groups : (N,) patient ids.
    """
    yy = as_labels(y)
    pa = as_scores(p_a, yy.shape[0], yy.shape[1], name="p_a")
    pb = as_scores(p_b, yy.shape[0], yy.shape[1], name="p_b")
    fn = _resolve_metric(metric)
    w = patient_weights(as_groups(groups, yy.shape[0]), n_boot, seed)
    ones = np.ones((1, yy.shape[0]))
    return paired_delta_from_samples(
        float(np.asarray(fn(yy, pa, ones))[0]),
        float(np.asarray(fn(yy, pb, ones))[0]),
        fn(yy, pa, w),
        fn(yy, pb, w),
        alpha,
    )
