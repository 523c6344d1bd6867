"""The joint stack search space, as plain Python over an Optuna trial."""

from __future__ import annotations

from collections.abc import Sequence

import optuna

from stacking.spec import StackSpec

__all__ = ["DEFAULT_LEARNERS", "suggest_spec"]

AnyTrial = optuna.Trial | optuna.trial.FixedTrial
DEFAULT_LEARNERS: tuple[str, ...] = ("logistic", "lightgbm", "mean", "weighted", "greedy")


def _suggest_params(trial: AnyTrial, learner: str) -> dict[str, object]:
    """Conditional hyper-parameters of ``learner``."""
    if learner == "logistic":
        penalty = trial.suggest_categorical("lr_penalty", ["l2", "l1", "elasticnet"])
        params: dict[str, object] = {
            "penalty": penalty,
            "C": trial.suggest_float("lr_C", 1e-3, 1e2, log=True),
            "class_weight": trial.suggest_categorical("lr_class_weight", ["none", "balanced"]),
        }
        if params["class_weight"] == "none":
            params["class_weight"] = None
        if penalty == "elasticnet":
            params["l1_ratio"] = trial.suggest_float("lr_l1_ratio", 0.05, 0.95)
        return params
    if learner == "lightgbm":
        return {
            "num_leaves": trial.suggest_int("gbm_num_leaves", 4, 63, log=True),
            "learning_rate": trial.suggest_float("gbm_learning_rate", 0.02, 0.3, log=True),
            "n_estimators": trial.suggest_int("gbm_n_estimators", 50, 300, log=True),
            "min_child_samples": trial.suggest_int("gbm_min_child_samples", 5, 200, log=True),
            "reg_lambda": trial.suggest_float("gbm_reg_lambda", 1e-3, 10.0, log=True),
            "reg_alpha": trial.suggest_float("gbm_reg_alpha", 1e-3, 10.0, log=True),
            "colsample_bytree": trial.suggest_float("gbm_colsample_bytree", 0.5, 1.0),
        }
    if learner == "weighted":
        return {"objective": trial.suggest_categorical("w_objective", ["auc", "log_loss"])}
    if learner == "greedy":
        return {"n_iter": trial.suggest_int("greedy_n_iter", 5, 30, log=True),
                "metric": trial.suggest_categorical("greedy_metric", ["auc", "log_loss"])}
    return {}


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
    params = _suggest_params(trial, learner)
    chosen = tuple(m for m in members if trial.suggest_categorical(f"use:{m}", [True, False]))
    transform = trial.suggest_categorical("transform", list(transforms))
    tab: tuple[str, ...] = ()
    cross = monotone = False
    if learner in ("logistic", "lightgbm"):
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
