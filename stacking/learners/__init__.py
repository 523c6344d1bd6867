"""Meta-learners (scikit-learn estimators) and their registry."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from sklearn.base import BaseEstimator

from stacking.learners._blend import (
    BestSingle,
    GreedyEnsembleSelection,
    MeanStacker,
    WeightedStacker,
)
from stacking.learners._gbm import LightGBMStacker
from stacking.learners._linear import LogisticStacker

__all__ = [
    "BLENDERS",
    "LEARNERS",
    "BestSingle",
    "GreedyEnsembleSelection",
    "LightGBMStacker",
    "LogisticStacker",
    "MeanStacker",
    "WeightedStacker",
    "create_learner",
]

LEARNERS: dict[str, type[BaseEstimator]] = {
    "logistic": LogisticStacker,
    "lightgbm": LightGBMStacker,
    "mean": MeanStacker,
    "weighted": WeightedStacker,
    "greedy": GreedyEnsembleSelection,
    "best_single": BestSingle,
}
#: Learners that combine one column per member of the same class (no passthrough).
BLENDERS: frozenset[str] = frozenset({"mean", "weighted", "greedy", "best_single"})


def create_learner(name: str, params: Mapping[str, Any], random_state: int | None = None
                   ) -> BaseEstimator:
    """Build learner ``name`` with hyper-parameters ``params``; seeds it if it takes a seed."""
    if name not in LEARNERS:
        raise ValueError(f"unknown meta-learner {name!r}; valid names: {sorted(LEARNERS)}")
    cls = LEARNERS[name]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = set(params) - accepted
    if unknown:
        raise ValueError(f"meta-learner {name!r}: unknown hyper-parameters {sorted(unknown)}; "
                         f"accepted: {sorted(accepted)}")
    kwargs = dict(params)
    if "random_state" in accepted and "random_state" not in kwargs:
        kwargs["random_state"] = random_state
    return cls(**kwargs)
