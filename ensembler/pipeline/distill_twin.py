"""The student's hard-label twin: the same network trained on hard labels only.

"Is the student better than the same architecture trained on hard labels?" needs that
network. A models[] member whose spec equals the student's (architecture, parameters,
fusion, tabular inputs, training settings; seed replicas count, bootstrap replicas do not,
they train on resampled patients) already is it: its fold bag is the fold students' twin,
its refit-full model the single student's. Otherwise (or with ``distill.hard_twin:
always``) the twin is trained through the students' own path with alpha 0: same seeds,
folds, early stopping and epochs, so only the targets differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ensembler.config import DistillConfig
from ensembler.errors import ConfigError
from ensembler.pipeline.context import RunContext
from ensembler.report.inputs import TwinRef
from ensembler.training.distill import PREFIX
from ensembler.training.members import MemberSpec
from ensembler.training.predictions import MemberPredictions

#: row names of a trained twin: ``hard_twin:<student>`` (fold bag) and ``...:single``
TWIN_PREFIX = "hard_twin:"
TRAINED = "trained with the student's network, seeds and folds on hard labels only (alpha 0)"
_SAME = ("arch", "params", "fusion", "tabular_names", "training")


def same_network(a: MemberSpec, b: MemberSpec) -> bool:
    """Same architecture, parameters, fusion, tabular inputs and training settings."""
    da, db = a.describe(), b.describe()
    return all(da[k] == db[k] for k in _SAME)


def matching_member(ctx: RunContext, spec: MemberSpec,
                    tuned: dict[str, dict[str, Any]] | None) -> MemberPredictions | None:
    """The predictions of the first trained network member with the student's spec."""
    from ensembler.training.runner import member_specs

    folder = ctx.run_dir / "predictions"
    for m in member_specs(ctx.cfg, ctx.cohort, tuned):
        path = folder / f"{m.name}.npz"
        if m.replica_kind != "bootstrap" and same_network(m, spec) and path.is_file():
            return MemberPredictions.load(path)
    return None


def single_epochs(dcfg: DistillConfig, member: MemberPredictions | None) -> int | None:
    """Epochs of a single student trained without fold students: ``distill.epochs``, else
    the median best epoch of the twin member's fold models; None with fold students."""
    if dcfg.fold_students:
        return None
    if dcfg.epochs is not None:
        return dcfg.epochs
    if member is not None:
        return max(1, int(np.median(member.meta.best_epoch)))
    raise ConfigError("distill.epochs: required with distill.fold_students: false when no "
                      "models[] member has the student's spec (whose fold models' median "
                      "best epoch would be used); expected a positive integer")


def train_twin(dcfg: DistillConfig, member: MemberPredictions | None) -> bool:
    return dcfg.hard_twin == "always" or (dcfg.hard_twin == "auto" and member is None)


@dataclass(frozen=True)
class TwinRows:
    """Which leaderboard row is the twin of each student row."""

    refs: dict[str, TwinRef]

    def record(self) -> dict[str, dict[str, str | None]]:
        return {k: {"row": v.row, "source": v.source} for k, v in self.refs.items()}

    @classmethod
    def from_record(cls, doc: dict[str, dict[str, str | None]]) -> TwinRows:
        return cls({k: TwinRef(row=v["row"], source=str(v["source"])) for k, v in doc.items()})


def twin_rows(student: str, dcfg: DistillConfig, member: MemberPredictions | None,
              trained: bool) -> TwinRows:
    """The twin row of ``distilled:<student>`` (fold bag) and ``...:single``."""
    label = PREFIX + student
    wanted = ([label] if dcfg.fold_students else []) + \
        ([f"{label}:single"] if dcfg.single else [])
    refs = {}
    for row in wanted:
        single = row.endswith(":single")
        if trained:
            twin = TWIN_PREFIX + student + (":single" if single else "")
            refs[row] = TwinRef(twin, f"`{twin}`, {TRAINED}")
        elif member is None:
            refs[row] = TwinRef(None, "none: distill.hard_twin is never and no models[] "
                                      "member has the student's spec")
        elif not single:
            refs[row] = TwinRef(member.name, f"member `{member.name}`, which has the "
                                             "student's spec")
        elif member.test_refit is not None:
            refs[row] = TwinRef(f"{member.name}:refit_full",
                                f"`{member.name}:refit_full`, the refit-full model of member "
                                f"`{member.name}`, which has the student's spec")
        else:
            refs[row] = TwinRef(None, f"none: member `{member.name}` has the student's spec "
                                      "but no refit-full model; set training.refit_full on "
                                      "it, or distill.hard_twin: always")
    return TwinRows(refs)
