"""Config of the joint stacking study."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ensembler.config.base import Section


class StackingConfig(Section):
    trials: int = Field(30, ge=1)
    learners: list[Literal["logistic", "lightgbm", "mean", "weighted", "greedy"]] = Field(
        default_factory=lambda: ["logistic", "lightgbm", "mean", "weighted", "greedy"]
    )
    transforms: list[Literal["prob", "logit", "rank"]] = Field(
        default_factory=lambda: ["prob", "logit", "rank"]
    )
    passthrough: list[str] = Field(default_factory=list)  # tabular columns offered
    nested_cv: bool = True
    multi_objective: bool = False
    calibration: list[Literal["none", "platt", "isotonic", "temperature"]] = Field(
        default_factory=lambda: ["none", "platt", "isotonic", "temperature"]
    )
    n_jobs: int = 1
