"""The distillation stage: one student network on a stack's meta-level OOF.

Reads the stacking stage's output (the teacher's ``oof.json`` and the best single model),
trains the student's fold models and, with ``distill.single``, one student on all
development data (:mod:`ensembler.training.distill`), and writes ``distill/stage.json``.
The students' test predictions are not scored here: the comparison stage reads them once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ensembler.config import DistillConfig
from ensembler.errors import StageError
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.stack import PRIMARY, load_fitted
from ensembler.training.distill import (
    OPTIMISTIC,
    PREDICTIONS,
    PREFIX,
    STUDENTS,
    soft_targets,
    student_spec,
    teacher_oof,
    train_student,
)
from ensembler.training.predictions import MemberPredictions
from ensembler.utils.atomic import write_json
from ensembler.utils.hashing import array_digest
from ensembler.utils.runlock import JobGuard

STAGE = Path("distill") / "stage.json"


@dataclass
class DistillStage:
    student: str  # the student's name (a models[] entry or an architecture)
    stack: str  # the teacher
    predictions: MemberPredictions

    @property
    def label(self) -> str:
        return PREFIX + self.student


def default_student(ctx: RunContext) -> str:
    """The models[] entry of the run's best single member (chosen on development OOF)."""
    best = load_fitted(ctx.run_dir, "best_single").spec.members[0]
    for entry in ctx.cfg.models:
        if best in entry.member_names():
            return entry.name
    raise StageError(f"distill.student: the best single member {best!r} is not a network "
                     "(a feature or external member); name a student architecture or entry")


def run_distill(ctx: RunContext, student: str | None = None,
                stack: str | None = None) -> DistillStage:
    """Train (or reuse) the student of ``distill:`` (``student``/``stack`` override it)."""
    from ensembler.pipeline.train import tuned_parameters

    dcfg = ctx.cfg.distill or DistillConfig()
    if not (ctx.run_dir / "stack" / "stage.json").is_file():
        raise StageError(f"{ctx.run_dir / 'stack'}: no stacks yet; run `ensembler stack` first")
    teacher = stack or dcfg.stack or ctx.cfg.export.stack or PRIMARY
    name = student or dcfg.student or default_student(ctx)
    spec = student_spec(ctx.cfg, ctx.cohort, name, tuned_parameters(ctx))
    source = f"meta-level OOF of {teacher}"
    targets = soft_targets(teacher_oof(ctx.run_dir, teacher), ctx.split.fold, dcfg.alpha,
                           dcfg.temperature, source)
    guard = JobGuard.for_run(ctx.run_dir, ctx.lock_token)
    preds = train_student(ctx.cfg, ctx.cohort, ctx.split, ctx.run_dir, spec, targets,
                          dcfg.single, verbose=ctx.progress, guard=guard)
    write_json(ctx.run_dir / STAGE, {"student": name, "stack": teacher, "targets": source,
                                     "alpha": dcfg.alpha, "temperature": dcfg.temperature,
                                     "single": dcfg.single,
                                     # the comparison stage's key reads this file
                                     "predictions": [array_digest(preds.oof),
                                                     array_digest(preds.test_by_fold)]})
    return DistillStage(student=name, stack=teacher, predictions=preds)


def load_distilled(run_dir: Path) -> tuple[dict[str, str], MemberPredictions] | None:
    """The last distillation stage's record and its student's predictions (None if none)."""
    path = run_dir / STAGE
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    return doc, MemberPredictions.load(run_dir / PREDICTIONS / f"{doc['student']}.npz")


def distilled_entries(ctx: RunContext, k: int, repeats: int) -> tuple[list[Any], str | None]:
    """Leaderboard rows of the run's student (none without a distillation stage):
    ``distilled:<student>`` (the K fold students averaged) and ``distilled:<student>:single``
    (one student on all development data), and the teacher stack's name. Their development
    AUC is the fold students' OOF, labelled optimistic: the teacher's targets of those rows
    came from models that saw the fold's labels."""
    from ensembler.pipeline.latency import combine, member_latency
    from ensembler.report import LeaderboardEntry

    found = load_distilled(ctx.run_dir)
    if found is None:
        return [], None
    doc, p = found
    cohort = ctx.cohort
    lat = member_latency(ctx.run_dir, doc["student"], cohort.signals.shape[1],
                         cohort.signals.shape[2], cohort.n_classes, cohort.fs, repeats,
                         root=str(STUDENTS))
    n_params = int(p.meta.get("n_params", 0))
    label = PREFIX + doc["student"]
    note = f"targets: {doc['targets']}; alpha {doc['alpha']}, T {doc['temperature']}"
    rows = [LeaderboardEntry(
        name=label, kind="distilled", test_proba=p.test, dev_oof_proba=p.oof,
        members=[label], n_params=n_params * k,
        latency_ms=combine([(lat, float(k))]) if lat else None,
        dev_auc_label=OPTIMISTIC, notes=f"{k} fold students averaged; {note}")]
    if p.test_refit is not None:
        rows.append(LeaderboardEntry(
            name=f"{label}:single", kind="distilled", test_proba=p.test_refit,
            dev_oof_proba=p.oof, members=[label], n_params=n_params,
            latency_ms=combine([(lat, 1.0)]) if lat else None, dev_auc_label=OPTIMISTIC,
            notes=f"one student on all development data (median best epoch); {note}; "
                  "threshold and dev AUC from the fold students' OOF"))
    return rows, doc["stack"]
