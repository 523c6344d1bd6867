"""StackSpec: a JSON-serialisable description of one stack configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stacking.calibration import CALIBRATION_METHODS
from stacking.features import TRANSFORMS
from stacking.learners import BLENDERS, LEARNERS

__all__ = ["StackSpec"]


@dataclass(frozen=True)
class StackSpec:
    """What to stack and how.

    Attributes:
        learner: a name in ``stacking.LEARNERS`` (logistic, lightgbm, mean,
            weighted, greedy, best_single).
        members: the included members, in column order.
        params: the learner's hyper-parameters (JSON scalars).
        transform: ``prob``, ``logit`` or ``rank`` (ECDF fitted on development OOF).
        passthrough: tabular columns appended to the features (logistic/lightgbm only).
        cross_class: multi-label only; each class's model reads every class's
            member columns instead of its own class's (logistic/lightgbm only).
        monotone: lightgbm only; +1 monotone constraint on the class's own member columns.
        calibration: ``auto`` (chosen by OOF log-loss) or a fixed method.
    """

    learner: str
    members: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    transform: str = "prob"
    passthrough: tuple[str, ...] = ()
    cross_class: bool = False
    monotone: bool = False
    calibration: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", tuple(self.members))
        object.__setattr__(self, "passthrough", tuple(self.passthrough))
        object.__setattr__(self, "params", dict(self.params))
        if self.learner not in LEARNERS:
            raise ValueError(f"StackSpec.learner: unknown {self.learner!r}; "
                             f"valid: {sorted(LEARNERS)}")
        if not self.members:
            raise ValueError("StackSpec.members: at least one member is required")
        if len(set(self.members)) != len(self.members):
            raise ValueError(f"StackSpec.members: duplicates in {self.members}")
        if self.transform not in TRANSFORMS:
            raise ValueError(f"StackSpec.transform: {self.transform!r} not in {TRANSFORMS}")
        if self.learner in BLENDERS and (self.passthrough or self.cross_class):
            raise ValueError(f"StackSpec: learner {self.learner!r} blends one column per member; "
                             "passthrough and cross_class need 'logistic' or 'lightgbm'")
        if self.monotone and self.learner != "lightgbm":
            raise ValueError("StackSpec.monotone: only the 'lightgbm' learner takes constraints")
        if self.calibration != "auto" and self.calibration not in CALIBRATION_METHODS:
            raise ValueError(f"StackSpec.calibration: {self.calibration!r} not in "
                             f"{('auto', *CALIBRATION_METHODS)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {"learner": self.learner, "members": list(self.members), "params": self.params,
                "transform": self.transform, "passthrough": list(self.passthrough),
                "cross_class": self.cross_class, "monotone": self.monotone,
                "calibration": self.calibration}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StackSpec:
        known = {"learner", "members", "params", "transform", "passthrough", "cross_class",
                 "monotone", "calibration"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"StackSpec.from_dict: unknown keys {sorted(unknown)}")
        return cls(**d)

    def label(self) -> str:
        """Short human-readable label, e.g. ``logistic[rank](a+b)``."""
        extra = "+tab" if self.passthrough else ""
        return f"{self.learner}[{self.transform}{extra}]({'+'.join(self.members)})"
