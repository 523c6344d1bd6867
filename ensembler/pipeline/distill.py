"""The distillation stage: one student network on a stack's meta-level OOF.

Reads the stacking stage's output (the teacher's ``oof.json`` and the best single model),
trains the student's fold models and, with ``distill.single``, one student on all
development data (:mod:`ensembler.training.distill`), and its hard-label twin when no
member is one (:mod:`ensembler.pipeline.distill_twin`), and writes ``distill/stage.json``.
The students' test predictions are not scored here: the comparison stage reads them once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ensembler.config import DistillConfig, ModelEntry
from ensembler.errors import StageError
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.distill_twin import (
    TWIN_PREFIX,
    TwinRows,
    matching_member,
    single_epochs,
    train_twin,
    twin_rows,
)
from ensembler.pipeline.stack import PRIMARY, load_fitted
from ensembler.pipeline.stage import Stage
from ensembler.report.inputs import EntryKind, TwinRef
from ensembler.training.distill import (
    OPTIMISTIC,
    PREDICTIONS,
    PREFIX,
    STUDENTS,
    TWIN_PREDICTIONS,
    TWINS,
    SingleStudent,
    hard_label_targets,
    soft_targets,
    student_spec,
    teacher_oof,
    train_student,
)
from ensembler.training.members import MemberSpec
from ensembler.training.predictions import MemberPredictions
from ensembler.utils.hashing import array_digest
from ensembler.utils.runlock import JobGuard

STAGE = Path("distill") / "stage.json"
#: development AUC label of a single student trained without fold students
TEACHER_OOF = "the teacher's meta-level OOF; a single-only student has no OOF predictions"
Students = MemberPredictions | SingleStudent


@dataclass
class DistillStage:
    student: str  # the student's name (a models[] entry or an architecture)
    stack: str  # the teacher
    predictions: Students
    twin: Students | None = None  # the trained hard-label twin (None: a member, or none)
    twins: dict[str, TwinRef] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return PREFIX + self.student


def default_student(ctx: RunContext) -> str:
    """The models[] entry of the run's best single member, or, when that member is not a
    network (a feature or external member), of the best *network* member by development
    out-of-fold macro AUC (the criterion the best single model is chosen by)."""
    from ensembler.pipeline.stack import load_member_predictions

    best = load_fitted(ctx.run_dir, "best_single").spec.members[0]
    y_dev = ctx.cohort.labels[ctx.split.fold >= 0]
    return choose_default_student(ctx.cfg.models, best, load_member_predictions(ctx), y_dev)


def choose_default_student(entries: list[ModelEntry], best: str,
                           preds: dict[str, MemberPredictions], y_dev: np.ndarray) -> str:
    """The entry of member ``best`` if it is a network; else the entry of the network member
    with the highest development OOF macro AUC (ties: config order). ``y_dev`` (N_dev, C)."""
    from ensembler.training.metrics import macro_auc

    entry_of = {m: e.name for e in entries for m in e.member_names()}
    if best in entry_of:
        return entry_of[best]
    networks = [m for m in entry_of if m in preds]
    if not networks:
        raise StageError(f"distill.student: the best single member {best!r} is not a network "
                         "and the run has no network member; name a student architecture "
                         "(distill.student or --student)")
    aucs = {m: macro_auc(y_dev, preds[m].oof) for m in networks}
    return entry_of[max(networks, key=lambda m: aucs[m])]


@dataclass(frozen=True)
class _Plan:
    """What the distillation stage trains, resolved from the config before it runs."""

    dcfg: DistillConfig
    teacher: str  # the stack whose meta-level OOF the student learns
    name: str  # the student
    spec: MemberSpec
    member: MemberPredictions | None  # the member that already is the hard-label twin
    epochs: int | None  # a single-only student's epochs (None with fold students)

    @property
    def source(self) -> str:
        return f"meta-level OOF of {self.teacher}"


def _plan(ctx: RunContext, student: str | None, stack: str | None) -> _Plan:
    """Resolve the teacher, the student (``student``/``stack`` override ``distill:``), its
    spec, its hard-label twin member and a single-only student's epochs."""
    from ensembler.pipeline.train import tuned_parameters

    dcfg = ctx.cfg.distill or DistillConfig()
    teacher = stack or dcfg.stack or ctx.cfg.export.stack or PRIMARY
    name = student or dcfg.student or default_student(ctx)
    tuned = tuned_parameters(ctx)
    spec = student_spec(ctx.cfg, ctx.cohort, name, tuned)
    member = matching_member(ctx, spec, tuned)
    return _Plan(dcfg, teacher, name, spec, member, single_epochs(dcfg, member))


def _train(ctx: RunContext, plan: _Plan) -> tuple[DistillStage, dict[str, Any]]:
    """Train the student on the teacher's soft targets and, when no member is one, its
    hard-label twin; return the stage's value and its ``stage.json`` record."""
    dcfg = plan.dcfg
    targets = soft_targets(teacher_oof(ctx.run_dir, plan.teacher), ctx.split.fold, dcfg.alpha,
                           dcfg.temperature, plan.source)
    guard = JobGuard.for_run(ctx.run_dir, ctx.lock_token)
    how: dict[str, Any] = dict(single=dcfg.single, verbose=ctx.progress, guard=guard,
                               fold_students=dcfg.fold_students, epochs=plan.epochs)
    preds = train_student(ctx.cfg, ctx.cohort, ctx.split, ctx.run_dir, plan.spec, targets,
                          **how)
    trained = train_twin(dcfg, plan.member)
    twin = train_student(ctx.cfg, ctx.cohort, ctx.split, ctx.run_dir, plan.spec,
                         hard_label_targets(ctx.cohort.labels, ctx.split.fold), **how,
                         root=TWINS, out=TWIN_PREDICTIONS) if trained else None
    twins = twin_rows(plan.name, dcfg, plan.member, trained)
    record = {
        "student": plan.name, "stack": plan.teacher, "targets": plan.source,
        "alpha": dcfg.alpha, "temperature": dcfg.temperature, "single": dcfg.single,
        "fold_students": dcfg.fold_students, "epochs": plan.epochs, "twin_trained": trained,
        "twins": twins.record(),
        # the comparison stage's key reads this file
        "predictions": [_digest(preds), None if twin is None else _digest(twin)]}
    return DistillStage(student=plan.name, stack=plan.teacher, predictions=preds, twin=twin,
                        twins=twins.refs), record


def _load_stage(run_dir: Path, rec: dict[str, Any]) -> DistillStage:
    """The stage's value from its ``stage.json`` record (the run was skipped)."""
    folds = bool(rec.get("fold_students", True))
    twin = _load(run_dir / TWIN_PREDICTIONS, rec["student"], folds) \
        if rec.get("twin_trained") else None
    return DistillStage(student=rec["student"], stack=rec["stack"],
                        predictions=_load(run_dir / PREDICTIONS, rec["student"], folds),
                        twin=twin, twins=TwinRows.from_record(rec.get("twins") or {}).refs)


def distill_stage(ctx: RunContext, student: str | None = None,
                  stack: str | None = None) -> Stage[DistillStage]:
    """The distillation stage of ``distill:`` (``student``/``stack`` override it): the
    student and its hard-label twin when no member is one (``distill.hard_twin``). Keyed
    by the stacking stage (the teacher's OOF), the student's spec and the distillation
    settings; its fold jobs resume on their own when it reruns."""
    stack_record = ctx.run_dir / "stack" / "stage.json"
    if not stack_record.is_file():
        raise StageError(f"{ctx.run_dir / 'stack'}: no stacks yet; run `ensembler stack` first")
    plan = _plan(ctx, student, stack)
    dcfg = plan.dcfg
    npz = f"{plan.name}.npz" if dcfg.fold_students else f"{plan.name}.single.npz"
    return Stage(
        "distillation", ctx.run_dir / STAGE,
        inputs={"stacking": Stage.read_key(stack_record), "teacher": plan.teacher,
                "student": plan.spec.describe(),
                "distill settings": dcfg.model_dump(mode="json", exclude={"student", "stack"}),
                "hard-label twin member": None if plan.member is None else plan.member.name,
                "single epochs": plan.epochs, "cohort": ctx.cohort.fingerprint,
                "split": ctx.split.fingerprint},
        run=lambda: _train(ctx, plan), load=lambda rec: _load_stage(ctx.run_dir, rec),
        outputs=[ctx.run_dir / PREDICTIONS / npz], say=ctx.say)


def run_distill(ctx: RunContext, student: str | None = None,
                stack: str | None = None) -> DistillStage:
    """Train (or reuse) the student of ``distill:`` (``student``/``stack`` override it) and
    its hard-label twin when no member is one (``distill.hard_twin``)."""
    return distill_stage(ctx, student, stack).execute()


def _digest(p: Students) -> list[str]:
    if isinstance(p, SingleStudent):
        return [array_digest(p.test)]
    refit = [] if p.test_refit is None else [array_digest(p.test_refit)]
    return [array_digest(p.oof), array_digest(p.test_by_fold), *refit]


def _load(folder: Path, name: str, fold_students: bool) -> Students:
    if fold_students:
        return MemberPredictions.load(folder / f"{name}.npz")
    return SingleStudent.load(folder, name)


def load_distilled(run_dir: Path) -> tuple[dict[str, Any], Students, Students | None] | None:
    """The last distillation stage's record, its student's predictions and its trained
    twin's (None when the twin is a member or there is none); None without a stage."""
    path = run_dir / STAGE
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    folds = bool(doc.get("fold_students", True))
    twin = _load(run_dir / TWIN_PREDICTIONS, doc["student"], folds) \
        if doc.get("twin_trained") else None
    return doc, _load(run_dir / PREDICTIONS, doc["student"], folds), twin


@dataclass
class DistilledRows:
    """The students' (and trained twins') leaderboard rows, the teacher, the twin map."""

    entries: list[Any]
    teacher: str | None
    twins: dict[str, TwinRef]


def distilled_entries(ctx: RunContext, k: int, repeats: int) -> DistilledRows:
    """Leaderboard rows of the run's student (none without a distillation stage):
    ``distilled:<student>`` (the K fold students averaged) and ``distilled:<student>:single``
    (one student on all development data); a trained hard-label twin adds
    ``hard_twin:<student>`` rows the same way. The fold students' development AUC is
    labelled optimistic: the teacher's targets of those rows came from models that saw the
    fold's labels. A single-only student's threshold comes from the teacher's OOF."""
    found = load_distilled(ctx.run_dir)
    if found is None:
        return DistilledRows([], None, {})
    doc, p, twin = found
    note = f"targets: {doc['targets']}; alpha {doc['alpha']}, T {doc['temperature']}"
    teacher = teacher_oof(ctx.run_dir, doc["stack"]) if isinstance(p, SingleStudent) else None
    rows = _rows(ctx, PREFIX + doc["student"], "distilled", p, STUDENTS, k, repeats,
                 OPTIMISTIC, note, teacher)
    if twin is not None:
        rows += _rows(ctx, TWIN_PREFIX + doc["student"], "hard_twin", twin, TWINS, k,
                      repeats, "out-of-fold", "the student's network, seeds and folds on "
                      "hard labels only (alpha 0)", None)
    return DistilledRows(rows, doc["stack"], TwinRows.from_record(doc.get("twins", {})).refs)


def _rows(ctx: RunContext, label: str, kind: EntryKind, p: Students, root: Path, k: int,
          repeats: int, dev_label: str, note: str, teacher: np.ndarray | None) -> list[Any]:
    """The fold-bag row (K fold models averaged) and the single row of one student."""
    from ensembler.pipeline.latency import combine, member_latency
    from ensembler.report import LeaderboardEntry

    c = ctx.cohort
    single_only = isinstance(p, SingleStudent)
    lat = member_latency(ctx.run_dir, p.meta, c.signals.shape[1], c.signals.shape[2],
                         c.n_classes, c.fs, repeats, root=str(root),
                         leaf="full" if single_only else "fold_0")
    n_params = int(p.meta.n_params)
    one = combine([(lat, 1.0)]) if lat else None
    if isinstance(p, SingleStudent):
        return [LeaderboardEntry(
            name=f"{label}:single", kind=kind, test_proba=p.test,
            dev_oof_proba=teacher, members=[label], n_params=n_params, latency_ms=one,
            dev_auc_label=TEACHER_OOF if teacher is not None else None,
            notes=f"one network on all development data for {p.meta.epochs} epochs "
                  f"(no fold students); {note}"
                  + ("; threshold from the teacher's meta-level OOF" if teacher is not None
                     else "; no development predictions, hence no operating point"))]
    rows = [LeaderboardEntry(
        name=label, kind=kind, test_proba=p.test, dev_oof_proba=p.oof,
        members=[label], n_params=n_params * k,
        latency_ms=combine([(lat, float(k))]) if lat else None,
        dev_auc_label=dev_label, notes=f"{k} fold models averaged; {note}")]
    if p.test_refit is not None:
        rows.append(LeaderboardEntry(
            name=f"{label}:single", kind=kind, test_proba=p.test_refit,
            dev_oof_proba=p.oof, members=[label], n_params=n_params, latency_ms=one,
            dev_auc_label=dev_label,
            notes=f"one network on all development data (median best epoch); {note}; "
                  "threshold and dev AUC from the fold models' OOF"))
    return rows
