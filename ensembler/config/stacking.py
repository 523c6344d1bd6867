"""Config of the joint stacking study."""

from __future__ import annotations

from typing import Literal

Learner = Literal["logistic", "lightgbm", "mean", "weighted", "greedy"]
Transform = Literal["prob", "logit", "rank"]
Calibration = Literal["none", "platt", "isotonic", "temperature"]

from pydantic import Field

from ensembler.config.base import Section


class StackingConfig(Section):
    trials: int = Field(30, ge=1)
    learners: list[Learner] = Field(
        default_factory=lambda: list[Learner](["logistic", "lightgbm", "mean", "weighted", "greedy"])
    )
    transforms: list[Transform] = Field(
        default_factory=lambda: list[Transform](["prob", "logit", "rank"])
    )
    passthrough: list[str] = Field(default_factory=list)  # tabular columns offered
    nested_cv: bool = True
    multi_objective: bool = False
    calibration: list[Calibration] = Field(
        default_factory=lambda: list[Calibration](["none", "platt", "isotonic", "temperature"])
    )
    n_jobs: int = 1
