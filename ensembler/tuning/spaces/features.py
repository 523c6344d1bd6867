"""Search spaces of feature members' learners (``feature_members[].learner``).

The ranges are those usual for gradient boosting and logistic regression on a few hundred
tabular columns and hundreds to tens of thousands of records (the tables in the tuning and
feature docs are generated from :data:`LEARNER_RANGES`). LightGBM's number of rounds is not
searched: every trial early-stops on its inner validation split.

Each space returns the learner section it overrides (``{"lightgbm": {...}}`` or
``{"logistic": {...}}``), the tuned-params format of
:func:`ensembler.training.feature_member.tuned_entry`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna

from ensembler.config import FeatureMemberEntry
from ensembler.tuning.spaces.common import suggest_ranges

#: Each learner's search parameters (the registry's range format, sampled in this order):
#: LightGBM's shrinkage, tree size, leaf size, column sampling and L2 on leaf values;
#: logistic regression's inverse L2 strength ``C``.
LEARNER_RANGES: dict[str, dict[str, dict[str, Any]]] = {
    "lightgbm": {
        "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
        "num_leaves": {"low": 4, "high": 64, "log": True},
        "min_child_samples": {"low": 5, "high": 100, "log": True},
        "feature_fraction": {"low": 0.2, "high": 1.0},
        "reg_lambda": {"low": 1e-3, "high": 10.0, "log": True},
    },
    "logistic": {"C": {"low": 1e-3, "high": 1e2, "log": True}},
}


def suggest_lightgbm_learner(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """LightGBM learner: ``LEARNER_RANGES["lightgbm"]``."""
    return {"lightgbm": suggest_ranges(trial, LEARNER_RANGES["lightgbm"])}


def suggest_logistic_learner(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """Logistic learner: ``LEARNER_RANGES["logistic"]``."""
    return {"logistic": suggest_ranges(trial, LEARNER_RANGES["logistic"])}


FEATURE_SPACES: dict[str, Callable[[optuna.trial.BaseTrial], dict[str, Any]]] = {
    "lightgbm": suggest_lightgbm_learner,
    "logistic": suggest_logistic_learner,
}


def feature_space(entry: FeatureMemberEntry
                  ) -> tuple[str, Callable[[optuna.trial.BaseTrial], dict[str, Any]]]:
    """``(space name, suggest function)`` of a feature member's learner."""
    return f"features_{entry.learner}", FEATURE_SPACES[entry.learner]
