"""Conformal prediction sets and selective prediction for the shipped stack.

:func:`calibrate_conformal` fits per-class Mondrian split-conformal quantiles on
the stack's meta-level out-of-fold probabilities (development data only);
:func:`prediction_sets` turns probabilities into (N, C, 2) set membership;
:func:`kept_and_decisions` keeps an ECG when every class's set is a singleton;
:func:`conformal_summary` / :func:`subgroup_conformal` measure coverage (with a
patient-bootstrap CI), the fraction kept and the error among kept ECGs.
"""

from __future__ import annotations

from ensembler.conformal.calibrate import (
    ClassQuantiles,
    ConformalCalibration,
    ConformalError,
    calibrate_conformal,
    crepes_sets,
    prediction_sets,
)
from ensembler.conformal.coverage import (
    ClassCoverage,
    ConformalSummary,
    Rate,
    conformal_summary,
    subgroup_conformal,
)
from ensembler.conformal.selective import as_sets, kept_and_decisions, set_labels

__all__ = [
    "ClassCoverage",
    "ClassQuantiles",
    "ConformalCalibration",
    "ConformalError",
    "ConformalSummary",
    "Rate",
    "as_sets",
    "calibrate_conformal",
    "conformal_summary",
    "crepes_sets",
    "kept_and_decisions",
    "prediction_sets",
    "set_labels",
    "subgroup_conformal",
]
