"""Export of a distilled student (``--stack distilled:<student>``) as a one-member bundle.

The student ships through the ordinary bundle path: one member (its K fold models, or
the single student in refit-full mode) under an identity "stack" — a ``best_single``
blend of that one column with no calibration, fitted on the student's own OOF — so
loading, verify, predict, evaluate, the card and the parity checks are the ones every
bundle gets. Its thresholds come from the fold students' OOF, which is optimistic (the
teacher's targets of those rows came from models that saw their fold's labels); the
manifest says so, and no conformal sets are shipped (they would under-cover).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from ensembler.bundle.run_inputs import MemberSource, RunInputs
from ensembler.config import RunConfig
from ensembler.errors import StageError
from ensembler.report.schema import Metrics
from ensembler.training.distill import (
    OPTIMISTIC,
    PREDICTIONS,
    PREFIX,
    STUDENTS,
    SingleStudent,
    teacher_oof,
)
from ensembler.training.predictions import MemberPredictions
from ensembler.utils.atomic import atomic_dir, marked_by


def _student_source(run_dir: Path, student: str, teacher: np.ndarray | None,
                    dev_ids: np.ndarray, dev_folds: np.ndarray) -> MemberSource:
    """The student as a bundle member: its K fold models (and the single student), or,
    without fold students, the single student alone, whose in-memory "OOF" for the
    identity stack's thresholds is the teacher's meta-level OOF (labelled as such)."""
    base = run_dir / STUDENTS / student
    full = base / "full"
    name = f"distilled_{student}"  # the bundle's member (and level-1 column) name
    single_only = teacher is not None
    if teacher is not None:
        one = SingleStudent.load(run_dir / PREDICTIONS, student)
        k = int(dev_folds.max()) + 1  # the identity stack's meta-level CV runs on the folds
        preds = MemberPredictions(
            name=student, oof=teacher, test_by_fold=np.repeat(one.test[None], k, axis=0),
            dev_record_id=dev_ids, test_record_id=one.test_record_id, fold=dev_folds,
            class_names=_class_names(run_dir), test_refit=one.test, meta=one.meta)
        folds: list[Path] = []
    else:
        path = run_dir / PREDICTIONS / f"{student}.npz"
        if not path.is_file():
            raise StageError(f"--stack {PREFIX}{student}: no student {student!r} in "
                             f"{run_dir / PREDICTIONS}; run `ensembler distill` first")
        preds = MemberPredictions.load(path)
        folds = [base / f"fold_{i}" for i in range(int(preds.fold.max()) + 1)]
    for d in [*folds, *([full] if single_only else [])]:
        if not (d / "weights.safetensors").is_file():
            raise StageError(f"{d / 'weights.safetensors'}: missing; the student's job "
                             "did not finish")
    return MemberSource(name=name, kind="network",
                        spec=dataclasses.replace(preds.meta.spec, name=name), fold_dirs=folds,
                        full_dir=full if (full / "weights.safetensors").is_file() else None,
                        predictions=preds, n_params=preds.meta.n_params)


def _class_names(run_dir: Path) -> list[str]:
    from stacking.model import FittedStack

    stage = json.loads((run_dir / "distill" / "stage.json").read_text())
    return list(FittedStack.load(run_dir / "stack" / stage["stack"]).class_names)


def _identity_stack(run_dir: Path, member: MemberSource, labels: np.ndarray,
                    groups: np.ndarray) -> Path:
    """Fit and save the one-column identity stack under ``distill/stack/<member>``."""
    from stacking import Level1Data, StackSpec, fit_stack

    p = member.predictions
    data = Level1Data(members=[member.name], class_names=list(p.class_names),
                      oof={member.name: p.oof}, test_by_fold={member.name: p.test_by_fold},
                      y=labels, groups=groups, folds=p.fold)
    fitted = fit_stack(data, StackSpec("best_single", (member.name,), calibration="none"))
    out = run_dir / "distill" / "stack" / member.name
    with atomic_dir(out, marked_by("stack.json")) as tmp:
        fitted.save(tmp)
    return out


def read_distilled(run_dir: Path, cfg: RunConfig, name: str, metrics: Metrics | None,
                   split_fp: str | None) -> RunInputs:
    """RunInputs of the student ``name`` (``distilled:<student>``) as a one-member bundle."""
    from ensembler.data.load import load_cohort
    from ensembler.splits.folds import Split
    from stacking.model import FittedStack

    student = name[len(PREFIX):].removesuffix(":single")
    stage_path = run_dir / "distill" / "stage.json"
    stage = json.loads(stage_path.read_text()) if stage_path.is_file() else {}
    teacher = stage.get("stack", "unknown")
    single_only = not stage.get("fold_students", True)
    cohort = load_cohort(cfg, run_dir / "cohort", progress=False)
    split = Split.from_json(run_dir / "split.json")
    dev_rows = split.fold >= 0
    member = _student_source(run_dir, student,
                             teacher_oof(run_dir, teacher) if single_only else None,
                             split.record_id[dev_rows].astype(str),
                             split.fold[dev_rows].astype(np.int64))
    index = {r: i for i, r in enumerate(cohort.record_id.astype(str))}
    dev = np.array([index[str(r)] for r in member.predictions.dev_record_id])
    stack_dir = _identity_stack(run_dir, member, cohort.labels[dev].astype(np.int64),
                                cohort.patient_id[dev])
    # no conformal sets: they would be calibrated on the students' optimistic OOF scores,
    # which are not exchangeable with their test scores
    cfg = cfg.model_copy(update={"export": cfg.export.model_copy(
        update={"conformal_alpha": None})})
    thresholds = (f"the teacher's meta-level OOF ({teacher}): the student has no fold "
                  "models, hence no OOF of its own" if single_only
                  else f"the fold students' OOF: {OPTIMISTIC}")
    return RunInputs(
        run_dir=run_dir, cfg=cfg, stack_name=f"{PREFIX}{student}", stack_dir=stack_dir,
        stack=FittedStack.load(stack_dir), operating=None,
        selected={"chosen_on": f"targets: meta-level OOF of {teacher} (distilled student)"},
        members=[member], metrics=metrics, split_fingerprint=split_fp,
        provenance_extra={
            "targets": f"meta-level OOF of {teacher}",
            "student thresholds": thresholds,
            "conformal sets": "not shipped: the students' OOF scores are optimistic, so "
                              "sets calibrated on them would under-cover"})
