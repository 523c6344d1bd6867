"""Config of the joint stacking study."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ensembler.config.base import Section

Learner = Literal["logistic", "lightgbm", "mean", "weighted", "greedy"]
Transform = Literal["prob", "logit", "rank"]
Calibration = Literal["none", "platt", "isotonic", "temperature"]
_LEARNERS: list[Learner] = ["logistic", "lightgbm", "mean", "weighted", "greedy"]


class StackingConfig(Section):
    trials: int = Field(30, ge=1)  # trials of each stacking study
    learners: list[Learner] = Field(  # meta-learners the joint study may choose
        default_factory=lambda: list(_LEARNERS)
    )
    transforms: list[Transform] = Field(  # level-1 transforms the study may choose
        default_factory=lambda: list[Transform](["prob", "logit", "rank"])
    )
    passthrough: list[str] = Field(default_factory=list)  # tabular columns offered
    nested_cv: bool = True  # nested CV estimate of the tuned joint stack
    multi_objective: bool = False  # also minimise members and ms/ECG -> Pareto front
    calibration: list[Calibration] = Field(  # calibration methods compared by OOF log-loss
        default_factory=lambda: list[Calibration](["none", "platt", "isotonic", "temperature"])
    )
    n_jobs: int = 1  # parallel folds inside a stacking trial
