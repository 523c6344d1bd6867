"""Measured behaviour of conformal sets on labelled data: coverage, abstention, error.

Every rate comes with a patient-cluster bootstrap CI
(:func:`ensembler.evaluation.bootstrap.patient_weights`): patients, not records,
are resampled. Subgroup rows flag classes whose coverage falls below
``1 - alpha - margin``; the conformal guarantee is marginal, so a subgroup may
legitimately sit below the target, and this is where it shows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ensembler.conformal.calibrate import ConformalError
from ensembler.conformal.selective import as_sets, kept_and_decisions
from ensembler.evaluation._checks import as_groups, as_labels
from ensembler.evaluation.bootstrap import patient_weights, percentile_ci

__all__ = ["ClassCoverage", "ConformalSummary", "Rate", "conformal_summary",
           "subgroup_conformal"]

MISSING = "(missing)"


@dataclass(frozen=True)
class Rate:
    """A measured proportion with its patient-bootstrap percentile CI (NaN when undefined)."""

    point: float
    lo: float
    hi: float


@dataclass(frozen=True)
class ClassCoverage:
    """Coverage of one class's sets; ``below_target``: point < 1 - alpha - margin."""

    name: str
    coverage: Rate
    coverage_pos: float  # among records with the condition (the Mondrian guarantee's half)
    coverage_neg: float
    n_pos: int
    singleton: float  # fraction of records whose set for this class is a singleton
    below_target: bool


@dataclass(frozen=True)
class ConformalSummary:
    """Coverage per class, fraction kept and error among kept, on one set of records."""

    alpha: float
    margin: float
    n: int
    n_patients: int
    classes: list[ClassCoverage]
    kept: Rate  # fraction of ECGs kept (every set a singleton); abstention = 1 - kept
    error_kept: Rate  # ECGs with any wrong singleton / ECGs kept (measured, not guaranteed)
    n_kept: int
    subgroup: str = ""  # "column=value" for a subgroup row, "" overall

    @property
    def abstention(self) -> float:
        return 1.0 - self.kept.point

    @property
    def flagged(self) -> list[str]:
        return [c.name for c in self.classes if c.below_target]

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "abstention": self.abstention, "flagged": self.flagged}


def _ratio(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _rate(values: NDArray[np.float64], mask: NDArray[np.bool_] | None,
          weights: NDArray[np.float64], ci: float) -> Rate:
    """Weighted mean of ``values`` over ``mask`` rows: point (all-ones) and bootstrap CI."""
    m = np.ones(values.shape[0]) if mask is None else mask.astype(np.float64)
    point = float(_ratio(np.array([np.sum(values * m)]), np.array([np.sum(m)]))[0])
    samples = _ratio(weights @ (values * m), weights @ m)
    lo, hi = percentile_ci(samples, ci)
    return Rate(point, lo, hi)


def _summarise(sets: NDArray[np.bool_], y: NDArray[np.int8], codes: NDArray[np.intp],
               names: list[str], alpha: float, margin: float, n_boot: int, seed: int,
               label: str = "") -> ConformalSummary:
    w = patient_weights(codes, n_boot, seed)
    covered = np.take_along_axis(sets, y[:, :, None].astype(np.intp), axis=2)[:, :, 0]
    kept, decision = kept_and_decisions(sets)
    wrong = (kept & (decision != y).any(axis=1)).astype(np.float64)
    single = sets.sum(axis=2) == 1
    rows = []
    for c, name in enumerate(names):
        cov = _rate(covered[:, c].astype(np.float64), None, w, 0.05)
        pos, neg = y[:, c] == 1, y[:, c] == 0
        rows.append(ClassCoverage(
            name=name, coverage=cov,
            coverage_pos=float(covered[pos, c].mean()) if pos.any() else float("nan"),
            coverage_neg=float(covered[neg, c].mean()) if neg.any() else float("nan"),
            n_pos=int(pos.sum()), singleton=float(single[:, c].mean()),
            below_target=bool(cov.point < 1.0 - alpha - margin)))
    return ConformalSummary(
        alpha=alpha, margin=margin, n=int(y.shape[0]), n_patients=int(np.unique(codes).size),
        classes=rows, kept=_rate(kept.astype(np.float64), None, w, 0.05),
        error_kept=_rate(wrong, kept, w, 0.05), n_kept=int(kept.sum()), subgroup=label)


def _inputs(sets: ArrayLike, y: ArrayLike, groups: ArrayLike,
            class_names: list[str]) -> tuple[NDArray[np.bool_], NDArray[np.int8], NDArray[np.intp]]:
    s = as_sets(sets)
    yy = as_labels(y)
    if yy.shape != s.shape[:2]:
        raise ConformalError(f"y: expected labels of shape {s.shape[:2]} to match the sets, "
                             f"got {yy.shape}")
    if len(class_names) != yy.shape[1]:
        raise ConformalError(f"class_names: expected {yy.shape[1]} names, got {len(class_names)}")
    return s, yy, as_groups(groups, yy.shape[0])


def conformal_summary(sets: ArrayLike, y: ArrayLike, groups: ArrayLike, alpha: float,
                      class_names: list[str], margin: float = 0.05, n_boot: int = 1000,
                      seed: int = 0) -> ConformalSummary:
    """Coverage per class, fraction kept and error among kept, with patient-bootstrap CIs.

    Parameters
    ----------
    sets : (N, C, 2) membership; y : (N, C) labels; groups : (N,) patient ids.
    alpha : the calibration's target miscoverage; margin : flag tolerance below 1 - alpha.
    """
    s, yy, codes = _inputs(sets, y, groups, class_names)
    return _summarise(s, yy, codes, list(class_names), alpha, margin, n_boot, seed)


def subgroup_conformal(sets: ArrayLike, y: ArrayLike, groups: ArrayLike,
                       subgroup_values: ArrayLike, column: str, alpha: float,
                       class_names: list[str], margin: float = 0.05, n_boot: int = 1000,
                       seed: int = 0) -> list[ConformalSummary]:
    """:func:`conformal_summary` within each value of one subgroup column.

    Missing values (None/NaN) form their own subgroup ``"(missing)"``; rows are
    sorted by value as text and labelled ``"column=value"``.
    """
    s, yy, codes = _inputs(sets, y, groups, class_names)
    vals = pd.Series(np.asarray(subgroup_values, dtype=object))
    if len(vals) != yy.shape[0]:
        raise ConformalError(f"subgroup {column!r}: expected {yy.shape[0]} values, "
                             f"got {len(vals)}")
    labels = vals.where(vals.notna(), MISSING).astype(str).to_numpy()
    out = []
    for k, value in enumerate(sorted(set(labels))):
        idx = np.flatnonzero(labels == value)
        out.append(_summarise(s[idx], yy[idx], codes[idx], list(class_names), alpha, margin,
                              n_boot, seed + 7919 * (k + 1), label=f"{column}={value}"))
    return out
