"""Config of the joint stacking study."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from ensembler.config.base import Section

# The three lists below mirror stacking.names (the one source stacking itself reads):
# Literals keep the config cheap to import (no scikit-learn at CLI start) and list the
# choices in the config reference; tests/config/test_names.py checks they are equal.
Learner = Literal["logistic", "lightgbm", "mean", "weighted", "greedy"]
Transform = Literal["prob", "logit", "rank"]
Calibration = Literal["none", "platt", "isotonic", "temperature"]
#: the fixed comparison rows (``stacking.named_stacks``), fitted in every run
FIXED_STACKS = ("best_single", "mean", "rank_mean", "greedy", "weighted")
#: the jointly tuned stack: shipped by default and named as the primary comparison
PRIMARY_STACK = "joint_stack"
#: learners that also get a stack tuned on their own, named ``tuned_<learner>``
SOLO_TUNED: tuple[Learner, ...] = ("logistic", "lightgbm")


class StackingConfig(Section):
    trials: int = Field(30, ge=1)  # trials of each stacking study
    learners: list[Learner] = Field(  # meta-learners the joint study may choose
        default_factory=lambda: list(get_args(Learner))
    )
    transforms: list[Transform] = Field(  # level-1 transforms the study may choose
        default_factory=lambda: list(get_args(Transform))
    )
    passthrough: list[str] = Field(default_factory=list)  # source tabular columns the stack sees
    nested_cv: bool = True  # nested CV estimate of the tuned joint stack
    multi_objective: bool = False  # also minimise members and ms/ECG -> Pareto front
    calibration: list[Calibration] = Field(  # calibration methods compared by OOF log-loss
        default_factory=lambda: list(get_args(Calibration))
    )
    n_jobs: int = 1  # parallel folds inside a stacking trial

    def stack_names(self) -> list[str]:
        """Every stack a run of this config fits (what ``export.stack`` may name)."""
        solo = [f"tuned_{learner}" for learner in SOLO_TUNED if learner in self.learners]
        return [*FIXED_STACKS, *solo, PRIMARY_STACK]
