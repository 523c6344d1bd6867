"""The diversity panel's typed record (metrics.json ``diversity``) and its one-line verdict.

Built by :mod:`ensembler.pipeline.diversity` from development OOF only (no test label
is read); the report renders it with :mod:`ensembler.report.diversity_blocks`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ensembler.report.tables import fmt

__all__ = [
    "ContributionBlock",
    "CorrelationBlock",
    "DiversityPanel",
    "DropOneBlock",
    "DropOneRow",
    "GreedyBlock",
    "GreedyStep",
    "Num",
    "gain_sentence",
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


def _f(v: Num) -> float:
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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CorrelationBlock:
        return cls(d["class_name"], int(d["n_pos"]), int(d["n_neg"]), d["positives"],
                   d["negatives"], d["unconditional"])


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
        return _f(self.lo) > 0

    @property
    def hurts(self) -> bool:
        """Dropping it raises the nested estimate (its CI lies below 0)."""
        return _f(self.hi) < 0


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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DropOneBlock:
        rows = [DropOneRow(r["member"], r["nested_without"], r["effect"], r["lo"], r["hi"],
                           r["p_value"], float(r["seconds"])) for r in d["rows"]]
        return cls(int(d["n_trials"]), int(d["stacking_trials"]), d["reference"],
                   int(d["n_bootstrap"]), rows, float(d["seconds"]), d["statistic"])


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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GreedyBlock:
        return cls(d["class_name"], [GreedyStep(s["member"], s["score"]) for s in d["steps"]],
                   int(d["best_step"]), {k: float(v) for k, v in d["weights"].items()},
                   d["metric"])


@dataclass(frozen=True)
class ContributionBlock:
    """One class of the shipped stack: each member's share of mean |contribution|."""

    class_name: str
    share: dict[str, Num]
    mean_abs: dict[str, Num]
    weights: dict[str, float] | None
    scale: str
    method: str

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContributionBlock:
        w = d.get("weights")
        return cls(d["class_name"], dict(d["share"]), dict(d["mean_abs"]),
                   None if w is None else {k: float(v) for k, v in w.items()},
                   d["scale"], d["method"])


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
    sentence: str = field(default="")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready except NaN (the report writer turns NaN into null)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DiversityPanel:
        drop = d.get("drop_one")
        return cls(
            members=list(d["members"]),
            correlation=[CorrelationBlock.from_dict(c) for c in d["correlation"]],
            drop_one=None if drop is None else DropOneBlock.from_dict(drop),
            greedy_stack=d["greedy_stack"],
            greedy=[GreedyBlock.from_dict(g) for g in d["greedy"]],
            shipped_stack=d["shipped_stack"], shipped_label=d["shipped_label"],
            contributions=[ContributionBlock.from_dict(c) for c in d["contributions"]],
            drop_one_skipped=d.get("drop_one_skipped"), sentence=d.get("sentence", ""))


def _change(r: DropOneRow, sign: float) -> str:
    """``|effect| [ci]`` oriented so the number is positive (lower / raise)."""
    lo, hi = sorted((sign * _f(r.lo), sign * _f(r.hi)))
    return f"{fmt(sign * _f(r.effect))} [{fmt(lo)}, {fmt(hi)}]"


def gain_sentence(block: DropOneBlock | None, skipped: str | None = None) -> str:
    """Which members carry the stack's nested estimate, from the drop-one numbers."""
    if block is None:
        return f"Drop-one effects were not computed ({skipped or 'disabled'})."
    carry = sorted((r for r in block.rows if r.carries), key=lambda r: -_f(r.effect))
    hurt = sorted((r for r in block.rows if r.hurts), key=lambda r: _f(r.effect))
    parts = [f"dropping `{r.member}` lowers the nested estimate by {_change(r, 1.0)}"
             for r in carry]
    parts += [f"dropping `{r.member}` raises the nested estimate by {_change(r, -1.0)}"
              for r in hurt]
    if parts:
        text = "; ".join(parts)
        text = text[0].upper() + text[1:]
        others = "other " if len(parts) < len(block.rows) else ""
        tail = f"; no {others}member's drop-one CI excludes 0." if others else "."
        text += tail
    else:
        top = max(block.rows, key=lambda r: _f(r.effect))
        text = (f"No member's drop-one CI excludes 0, so no single member carries the stack's "
                f"nested estimate (largest: dropping `{top.member}` changes it by "
                f"{fmt(-_f(top.effect), sign=True)} [{fmt(-_f(top.hi), sign=True)}, "
                f"{fmt(-_f(top.lo), sign=True)}]).")
    if not block.same_procedure:
        text += (f" (Drop-one reruns used {block.n_trials} trials per inner study against "
                 f"{block.stacking_trials} for the nested estimate: a cheaper rerun.)")
    return text
