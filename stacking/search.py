"""The joint stack search space, as plain Python over an Optuna trial."""

from __future__ import annotations

from collections.abc import Sequence

import optuna

from stacking.learners import BLENDERS, SEARCHABLE, suggest_params
from stacking.spec import StackSpec

__all__ = ["DEFAULT_LEARNERS", "suggest_spec"]

AnyTrial = optuna.Trial | optuna.trial.FixedTrial
DEFAULT_LEARNERS: tuple[str, ...] = SEARCHABLE


def suggest_spec(
    trial: AnyTrial,
    members: Sequence[str],
    learners: Sequence[str],
    transforms: Sequence[str],
    passthrough: Sequence[str] = (),
    multilabel: bool = False,
) -> StackSpec | None:
    """Sample one stack: learner -> its hyper-parameters, members, transform, passthrough.

    Members are one boolean ``use:<member>`` each; returns None when the trial
    switched every member off (the caller prunes it).
    """
    learner = trial.suggest_categorical("learner", list(learners))
    params = suggest_params(learner, trial)
    chosen = tuple(m for m in members if trial.suggest_categorical(f"use:{m}", [True, False]))
    transform = trial.suggest_categorical("transform", list(transforms))
    tab: tuple[str, ...] = ()
    cross = monotone = False
    if learner not in BLENDERS:  # learners that take passthrough columns
        if passthrough and trial.suggest_categorical("passthrough", [True, False]):
            tab = tuple(passthrough)
        if multilabel:
            cross = trial.suggest_categorical("cross_class", [False, True])
        if learner == "lightgbm":
            monotone = trial.suggest_categorical("gbm_monotone", [False, True])
    if not chosen:
        return None
    return StackSpec(learner=learner, members=chosen, params=params, transform=transform,
                     passthrough=tab, cross_class=cross, monotone=monotone)
