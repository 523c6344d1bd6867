"""Operating points: a threshold chosen on development data, applied to test data.

The rule is ``predict positive when p >= threshold`` (scikit-learn's
``roc_curve`` convention). :func:`choose_threshold` sees development
out-of-fold predictions only; :func:`operating_point` never chooses anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import roc_curve

from ensembler.evaluation._checks import as_groups, as_labels, as_scores
from ensembler.evaluation.bootstrap import patient_weights, percentile_ci

__all__ = [
    "Estimate",
    "OperatingPoint",
    "OperatingPoints",
    "choose_threshold",
    "operating_point",
]

RATES = ("sensitivity", "specificity", "ppv", "npv")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its bootstrap percentile interval.

    ``n_dropped``: resamples left out of the interval because the rate was
    undefined in them (an empty denominator, e.g. no positives drawn).
    """

    point: float
    lo: float
    hi: float
    n_dropped: int = 0

    def as_dict(self) -> dict[str, float]:
        return {"point": self.point, "lo": self.lo, "hi": self.hi, "n_dropped": self.n_dropped}


@dataclass(frozen=True)
class OperatingPoint:
    """Test-set rates of one class at a fixed threshold."""

    threshold: float
    sensitivity: Estimate
    specificity: Estimate
    ppv: Estimate
    npv: Estimate
    n_pos: int
    n_neg: int

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "threshold": self.threshold,
            "n_pos": self.n_pos,
            "n_neg": self.n_neg,
        }
        for r in RATES:
            out[r] = getattr(self, r).as_dict()
        return out


@dataclass(frozen=True)
class OperatingPoints:
    """Per-class operating points and their macro average (over classes with a threshold)."""

    per_class: list[OperatingPoint]
    macro: dict[str, Estimate]

    def as_dict(self) -> dict[str, object]:
        return {
            "per_class": [op.as_dict() for op in self.per_class],
            "macro": {k: v.as_dict() for k, v in self.macro.items()},
        }


def choose_threshold(
    y_dev: ArrayLike,
    p_dev: ArrayLike,
    method: Literal["youden", "sensitivity"] = "youden",
    target: float = 0.8,
) -> NDArray[np.float64]:
    """Per-class threshold from development (out-of-fold) predictions.

    ``"youden"`` maximises sensitivity + specificity - 1 (ties: the higher
    threshold); ``"sensitivity"`` takes the highest threshold whose development
    sensitivity is at least ``target`` (so the best specificity at that sensitivity).

    Parameters
    ----------
    y_dev : (N_dev,) or (N_dev, C) labels; p_dev : matching scores.

    Returns
    -------
    (C,) thresholds; NaN for a class without both labels in development data.
    """
    if method not in ("youden", "sensitivity"):
        raise ValueError(f"method: expected 'youden' or 'sensitivity', got {method!r}")
    if not 0.0 < target < 1.0:
        raise ValueError(f"target: expected a sensitivity in (0, 1), got {target}")
    yy = as_labels(y_dev, "y_dev")
    pp = as_scores(p_dev, yy.shape[0], yy.shape[1], name="p_dev")
    out = np.full(yy.shape[1], np.nan)
    for c in range(yy.shape[1]):
        if yy[:, c].min() == yy[:, c].max():
            continue
        fpr, tpr, thr = roc_curve(yy[:, c], pp[:, c], drop_intermediate=False)
        fpr, tpr, thr = fpr[1:], tpr[1:], thr[1:]  # drop the (inf, 0, 0) start point
        if method == "youden":
            j = tpr - fpr  # first maximum (up to rounding) = highest threshold
            idx = int(np.flatnonzero(j >= j.max() - 1e-12)[0])
        else:
            idx = int(np.flatnonzero(tpr >= target - 1e-12)[0])
        out[c] = float(thr[idx])
    return out


def _rates(
    y: NDArray[np.int8], pred: NDArray[np.bool_], w: NDArray[np.float64]
) -> NDArray[np.float64]:
    """(4, B, C) sensitivity, specificity, PPV, NPV under row weights w (B, N)."""
    yb = y.astype(bool)
    tp = w @ (yb & pred)
    fn = w @ (yb & ~pred)
    fp = w @ (~yb & pred)
    tn = w @ (~yb & ~pred)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([tp / (tp + fn), tn / (tn + fp), tp / (tp + fp), tn / (tn + fn)])


def _macro_rates(point: NDArray[np.float64], boot: NDArray[np.float64],
                 has_thr: NDArray[np.bool_], alpha: float) -> dict[str, Estimate]:
    """Each rate's mean over the classes with a finite threshold, its CI from the
    per-resample means (NaN when no class has one). ``point`` (4, C), ``boot`` (4, B, C)."""
    macro = {}
    for r, name in enumerate(RATES):
        if has_thr.any():
            samples = boot[r][:, has_thr].mean(axis=1)
            lo, hi = percentile_ci(samples, alpha)
            macro[name] = Estimate(float(point[r, has_thr].mean()), lo, hi,
                                   int(np.count_nonzero(~np.isfinite(samples))))
        else:
            macro[name] = Estimate(float("nan"), float("nan"), float("nan"))
    return macro


def _class_rates(point: NDArray[np.float64], boot: NDArray[np.float64], has_thr: bool,
                 alpha: float) -> list[Estimate]:
    """One class's four rates with CIs (NaN without a threshold). ``point`` (4,),
    ``boot`` (4, B)."""
    ests = []
    for r in range(4):
        lo, hi = percentile_ci(boot[r], alpha)
        if has_thr:
            ests.append(Estimate(float(point[r]), lo, hi,
                                 int(np.count_nonzero(~np.isfinite(boot[r])))))
        else:
            ests.append(Estimate(float("nan"), float("nan"), float("nan")))
    return ests


def operating_point(
    y: ArrayLike,
    p: ArrayLike,
    threshold: ArrayLike,
    groups: ArrayLike,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    weights: NDArray[np.float64] | None = None,
) -> OperatingPoints:
    """Sensitivity, specificity, PPV and NPV at fixed thresholds, with patient-bootstrap CIs.

    Parameters
    ----------
    y : (N,) or (N, C) test labels; p : matching scores.
    threshold : (C,) thresholds (from :func:`choose_threshold` on development data).
    groups : (N,) patient ids.
    weights : optional precomputed (B, N) resample weights (see
        :func:`~ensembler.evaluation.bootstrap.patient_weights`) so several
        models share resamples; when given, ``n_boot`` and ``seed`` are unused.

    Returns
    -------
    One :class:`OperatingPoint` per class (a rate with an empty denominator is
    NaN) and the macro mean of each rate over the classes with a finite
    threshold, its CI from the per-resample means.
    """
    yy = as_labels(y)
    pp = as_scores(p, yy.shape[0], yy.shape[1])
    thr = np.atleast_1d(np.asarray(threshold, dtype=np.float64))
    if thr.shape != (yy.shape[1],):
        raise ValueError(f"threshold: expected shape ({yy.shape[1]},), got {thr.shape}")
    codes = as_groups(groups, yy.shape[0])
    w = patient_weights(codes, n_boot, seed) if weights is None else weights
    pred = pp >= np.where(np.isnan(thr), np.inf, thr)[None, :]
    point = _rates(yy, pred, np.ones((1, yy.shape[0])))[:, 0, :]  # (4, C)
    boot = _rates(yy, pred, w)  # (4, B, C)
    result = []
    has_thr = np.isfinite(thr)
    macro = _macro_rates(point, boot, has_thr, alpha)
    for c in range(yy.shape[1]):
        ests = _class_rates(point[:, c], boot[:, :, c], bool(has_thr[c]), alpha)
        result.append(
            OperatingPoint(
                threshold=float(thr[c]),
                sensitivity=ests[0],
                specificity=ests[1],
                ppv=ests[2],
                npv=ests[3],
                n_pos=int(yy[:, c].sum()),
                n_neg=int((1 - yy[:, c]).sum()),
            )
        )
    return OperatingPoints(result, macro)
