"""The names stacking accepts, each list defined once: the run config's types
(``ensembler.config.stacking``) and every check in this package read them from here."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["CALIBRATION_METHODS", "SEARCHABLE", "TRANSFORMS", "CalibrationMethod",
           "SearchableLearner", "Transform"]

#: Meta-learners a stacking study may choose (``best_single`` is a comparison row only).
SearchableLearner = Literal["logistic", "lightgbm", "mean", "weighted", "greedy"]
SEARCHABLE: tuple[SearchableLearner, ...] = get_args(SearchableLearner)
#: Level-1 transforms of the members' probabilities.
Transform = Literal["prob", "logit", "rank"]
TRANSFORMS: tuple[Transform, ...] = get_args(Transform)
#: Calibration methods compared by out-of-fold log-loss.
CalibrationMethod = Literal["none", "platt", "isotonic", "temperature"]
CALIBRATION_METHODS: tuple[CalibrationMethod, ...] = get_args(CalibrationMethod)
