"""The diversity panel's typed record: ``diversity/diversity.json`` and metrics.json
``diversity`` (a field of :class:`ensembler.report.schema.Metrics`).

Built by :mod:`ensembler.pipeline.diversity` from development OOF only (no test label
is read); the report renders it, and words its verdict, in
:mod:`ensembler.report.diversity_blocks`. Serialised with :mod:`ensembler.utils.jsonclass`
like the rest of metrics.json: a number that could not be computed is NaN in memory,
``null`` on disk and None when read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ensembler.utils.jsonclass import from_json_dict, to_json_dict

__all__ = [
    "ContributionBlock",
    "CorrelationBlock",
    "DiversityPanel",
    "DropOneBlock",
    "DropOneRow",
    "GreedyBlock",
    "GreedyStep",
    "Num",
    "as_float",
]

#: A number that could not be computed: NaN in memory, ``null`` on disk, None when read.
Num = float | None
Matrix = list[list[Num]]

#: What the drop-one CI resamples (metrics.json ``diversity.drop_one.statistic``).
DROP_ONE_STATISTIC = (
    "nested estimate with every member minus the nested estimate without the member (the "
    "nested stacking study rerun without it); 95% CI: paired patient bootstrap of the two "
    "nested out-of-fold predictions (mean over outer folds of the fold's macro AUC on the "
    "same resampled patients); it covers the sampling of development patients given the "
    "stacks each study chose, not the randomness of rerunning the studies")


def as_float(v: Num) -> float:
    """``v`` as a float (None as NaN), for comparisons."""
    return float("nan") if v is None else float(v)


@dataclass(frozen=True)
class CorrelationBlock:
    """One class: members' log-odds correlation among positives, negatives and all rows."""

    class_name: str
    n_pos: int
    n_neg: int
    positives: Matrix
    negatives: Matrix
    unconditional: Matrix


@dataclass(frozen=True)
class DropOneRow:
    """One member: the nested estimate without it and ``effect`` = with all - without."""

    member: str
    nested_without: Num
    effect: Num
    lo: Num
    hi: Num
    p_value: Num
    seconds: float

    @property
    def carries(self) -> bool:
        """Dropping it lowers the nested estimate (its CI lies above 0)."""
        return as_float(self.lo) > 0

    @property
    def hurts(self) -> bool:
        """Dropping it raises the nested estimate (its CI lies below 0)."""
        return as_float(self.hi) < 0


@dataclass(frozen=True)
class DropOneBlock:
    """Every member's drop-one effect, under ``n_trials`` trials per inner study."""

    n_trials: int
    stacking_trials: int
    reference: Num
    n_bootstrap: int
    rows: list[DropOneRow]
    seconds: float
    statistic: str = DROP_ONE_STATISTIC

    @property
    def same_procedure(self) -> bool:
        """The reruns used the nested estimate's own trials (else a cheaper rerun)."""
        return self.n_trials == self.stacking_trials


@dataclass(frozen=True)
class GreedyStep:
    """One greedy addition: the member added and the score of the running mean after it."""

    member: str
    score: Num


@dataclass(frozen=True)
class GreedyBlock:
    """One class's greedy selection path; ``best_step`` (0-based) gave ``weights``."""

    class_name: str
    steps: list[GreedyStep]
    best_step: int
    weights: dict[str, float]
    metric: str


@dataclass(frozen=True)
class ContributionBlock:
    """One class of the shipped stack: each member's share of mean |contribution|."""

    class_name: str
    share: dict[str, Num]
    mean_abs: dict[str, Num]
    weights: dict[str, float] | None
    scale: str
    method: str


@dataclass(frozen=True)
class DiversityPanel:
    """Why the stack helps or not, on development OOF (metrics.json ``diversity``).

    ``drop_one`` is None when it was not run (``drop_one_skipped`` says why);
    ``greedy`` is the greedy ensemble-selection stack fitted on all development OOF
    (scores in-sample on those rows); ``contributions`` are the shipped stack's.
    """

    members: list[str]
    correlation: list[CorrelationBlock]
    drop_one: DropOneBlock | None
    greedy_stack: str
    greedy: list[GreedyBlock]
    shipped_stack: str
    shipped_label: str
    contributions: list[ContributionBlock]
    drop_one_skipped: str | None = None
    sentence: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON object (NaN as null)."""
        return to_json_dict(self)

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any], where: str) -> DiversityPanel:
        """Read a parsed panel; errors name ``where`` and the field's path."""
        return from_json_dict(cls, data, where)
