"""Meta-learners (scikit-learn estimators) and their registry."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sklearn.base import BaseEstimator

from stacking.learners._blend import (
    BestSingle,
    GreedyEnsembleSelection,
    MeanStacker,
    WeightedStacker,
    _Blender,
)
from stacking.learners._gbm import LightGBMStacker
from stacking.learners._linear import LogisticStacker
from stacking.names import SEARCHABLE

if TYPE_CHECKING:
    from optuna.trial import BaseTrial

__all__ = [
    "BLENDERS",
    "LEARNERS",
    "SEARCHABLE",
    "BestSingle",
    "GreedyEnsembleSelection",
    "LightGBMStacker",
    "LogisticStacker",
    "MeanStacker",
    "WeightedStacker",
    "create_learner",
    "suggest_params",
]

LEARNERS: dict[str, type[_Blender | LogisticStacker | LightGBMStacker]] = {
    "logistic": LogisticStacker,
    "lightgbm": LightGBMStacker,
    "mean": MeanStacker,
    "weighted": WeightedStacker,
    "greedy": GreedyEnsembleSelection,
    "best_single": BestSingle,
}
#: Learners that combine one column per member of the same class (no passthrough).
BLENDERS: frozenset[str] = frozenset({"mean", "weighted", "greedy", "best_single"})
#: The learners a stacking study may choose (best_single is a comparison row only).
if set(LEARNERS) != {*SEARCHABLE, "best_single"}:  # a learner added in one place only
    raise RuntimeError(f"stacking.LEARNERS {sorted(LEARNERS)} and stacking.names.SEARCHABLE "
                       f"{sorted(SEARCHABLE)} (+ best_single) disagree")


def suggest_params(name: str, trial: BaseTrial) -> dict[str, Any]:
    """Learner ``name``'s hyper-parameters for ``trial`` (each learner owns its space)."""
    return LEARNERS[name].suggest_params(trial)


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
