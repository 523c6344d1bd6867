"""Distilled students (member kind ``distilled``): a network trained on a stack's
meta-level out-of-fold probabilities, through the fold trainer.

Targets: each development record's soft target is the teacher stack's calibrated
meta-level OOF probability (``stack/<name>/oof.json``: the rows predicted by
meta-learners fitted on the other base folds, the predictions the stack's thresholds
come from), never the stack's in-sample output on its own training rows.

Students live apart from the members: fold folders under ``distill/students/<name>/``
and predictions under ``distill/predictions/``, which stacking never reads, so a
student never enters a stack nor the choice of the best single model.

Leakage that remains (named, contained): a fold-k student learns the targets of other
folds' rows, and those targets came from level-0 models and meta-learners that were
fitted on fold k's labels. Its out-of-fold AUC is therefore optimistic ("teacher saw
these rows"); a student is judged on the test set only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ensembler.config import RunConfig
from ensembler.data.cohort import Cohort
from ensembler.errors import ConfigError, StageError
from ensembler.training.jobs import FULL, FoldJob, job_is_done
from ensembler.training.members import MemberSpec
from ensembler.training.predictions import MemberPredictions
from ensembler.training.runner import SplitLike, assemble_member, run_jobs
from ensembler.training.soft_targets import SoftTargets
from ensembler.utils.runlock import JobGuard

#: leaderboard rows and bundle names of students: ``distilled:<student>``
PREFIX = "distilled:"
#: the label of a student's development AUC
OPTIMISTIC = "teacher saw these rows (optimistic)"
STUDENTS = Path("distill") / "students"
PREDICTIONS = Path("distill") / "predictions"


def teacher_oof(run_dir: Path, stack: str) -> np.ndarray:
    """(N_dev, C) calibrated meta-level OOF probabilities of ``stack`` (development rows in
    split order), as written by the stacking stage."""
    from stacking import FittedStack

    folder = run_dir / "stack" / stack
    if not (folder / "stack.json").is_file():
        have = sorted(p.parent.name for p in (run_dir / "stack").glob("*/stack.json"))
        raise StageError(f"distill.stack: no fitted stack {stack!r} in {run_dir / 'stack'}; "
                         f"stacks of this run: {have or 'none (run `ensembler stack` first)'}")
    return np.asarray(FittedStack.load(folder).oof_, dtype=np.float64)


def soft_targets(oof: np.ndarray, fold_vec: np.ndarray, alpha: float, temperature: float,
                 source: str) -> SoftTargets:
    """Place the teacher's (N_dev, C) OOF rows at the cohort's development rows (NaN on
    test rows, which no job may train on)."""
    dev = np.flatnonzero(np.asarray(fold_vec) >= 0)
    if oof.ndim != 2 or oof.shape[0] != len(dev):
        raise StageError(f"teacher {source}: {oof.shape[0]} OOF rows for {len(dev)} "
                         "development records; re-run `ensembler stack`")
    if not np.isfinite(oof).all():
        raise StageError(f"teacher {source}: OOF has missing values (never filled)")
    probs = np.full((len(fold_vec), oof.shape[1]), np.nan, np.float32)
    probs[dev] = oof
    return SoftTargets(probs=probs, alpha=alpha, temperature=temperature, source=source)


def student_spec(cfg: RunConfig, cohort: Cohort, student: str,
                 tuned: dict[str, dict[str, Any]] | None = None) -> MemberSpec:
    """The student's MemberSpec: a models[] entry (its params, tuned params and fusion) or a
    registry architecture with default params and the run's training section."""
    from base_models import list_models
    from ensembler.training.members import expand_entry
    from ensembler.training.runner import model_tabular_names

    entries = {e.name: e for e in cfg.models}
    if student in entries:
        tab = model_tabular_names(cfg, cohort)
        base = expand_entry(entries[student], cfg, tab, (tuned or {}).get(student))[0]
        fields = {**base.__dict__, "replica_kind": "none", "replica_index": 0}
    elif student in list_models() or ":" in student:
        fields = dict(arch=student, params={}, fusion="none", tabular_names=(),
                      training=cfg.training)
    else:
        raise ConfigError(f"distill.student: {student!r} is neither a models[] entry "
                          f"({sorted(entries)}) nor a registry architecture "
                          f"({sorted(list_models())})")
    fields.update(name=student, entry=PREFIX + student)  # own seeds, own folders
    return MemberSpec(**fields)


def train_student(
    cfg: RunConfig, cohort: Cohort, split: SplitLike, run_dir: Path, spec: MemberSpec,
    targets: SoftTargets, single: bool = True, verbose: bool = True,
    guard: JobGuard | None = None,
) -> MemberPredictions:
    """K fold students (early-stopped on each fold's inner split, hard labels) and, with
    ``single``, one student on all development data for their median best epoch.

    Jobs are resumable like members' (same keys plus the targets' digest). Writes
    ``distill/predictions/<name>.npz`` (the predictions contract; ``oof`` is the
    optimistic development estimate) and returns it."""
    fold_vec = np.asarray(split.fold)
    common: dict[str, Any] = dict(run_seed=cfg.seed, cohort_fingerprint=cohort.fingerprint,
                                  split_fingerprint=split.fingerprint, targets=targets,
                                  root=str(STUDENTS))
    jobs = [FoldJob(spec, f, **common) for f in range(int(split.n_folds))]
    run_jobs(jobs, cohort, fold_vec, run_dir, cfg.training, verbose, guard,
             f"distilling {spec.name} (fold students)")
    full = None
    if single:
        import json

        epochs = [json.loads((j.folder(run_dir) / "meta.json").read_text())["best_epoch"]
                  for j in jobs]
        full = FoldJob(spec, FULL, epochs=max(1, int(np.median(epochs))), **common)
        run_jobs([full], cohort, fold_vec, run_dir, cfg.training, verbose, guard,
                 f"distilling {spec.name} (single student)")
    missing = [j.fold for j in jobs + ([full] if full else []) if not job_is_done(j, run_dir)]
    if missing:
        raise StageError(f"distill: student {spec.name} jobs {missing} did not finish")
    extra = {"kind": "distilled", "targets": targets.source, "alpha": targets.alpha,
             "temperature": targets.temperature, "oof_label": OPTIMISTIC}
    return assemble_member(spec, jobs, cohort, fold_vec, run_dir, full,
                           out_dir=run_dir / PREDICTIONS, extra_meta=extra)
