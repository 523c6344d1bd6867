"""Search spaces of feature members' learners (``feature_members[].learner``).

The ranges are those usual for gradient boosting and logistic regression on a few hundred
tabular columns and hundreds to tens of thousands of records:

* ``lightgbm``: ``learning_rate`` 0.01-0.3 (log), ``num_leaves`` 4-64 (log),
  ``min_child_samples`` 5-100 (log), ``feature_fraction`` 0.2-1.0,
  ``reg_lambda`` (L2 on leaf values) 1e-3-10 (log). The number of rounds is not searched:
  every trial early-stops on its inner validation split.
* ``logistic``: ``C`` (inverse L2 strength) 1e-3-1e2 (log).

Each returns the learner section it overrides (``{"lightgbm": {...}}`` or
``{"logistic": {...}}``), the tuned-params format of
:func:`ensembler.training.feature_member.tuned_entry`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna

from ensembler.config import FeatureMemberEntry


def suggest_lightgbm_learner(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """LightGBM learner: shrinkage, tree size, leaf size, column sampling, L2."""
    return {"lightgbm": {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.2, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }}


def suggest_logistic_learner(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """Logistic learner: the inverse L2 strength ``C``."""
    return {"logistic": {"C": trial.suggest_float("C", 1e-3, 1e2, log=True)}}


FEATURE_SPACES: dict[str, Callable[[optuna.trial.BaseTrial], dict[str, Any]]] = {
    "lightgbm": suggest_lightgbm_learner,
    "logistic": suggest_logistic_learner,
}


def feature_space(entry: FeatureMemberEntry
                  ) -> tuple[str, Callable[[optuna.trial.BaseTrial], dict[str, Any]]]:
    """``(space name, suggest function)`` of a feature member's learner."""
    return f"features_{entry.learner}", FEATURE_SPACES[entry.learner]
