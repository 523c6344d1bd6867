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

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ensembler.config import RunConfig
from ensembler.data.cohort import Cohort
from ensembler.errors import ConfigError, StageError
from ensembler.training.jobs import FULL, FoldJob, job_is_done
from ensembler.training.member_meta import MemberMeta
from ensembler.training.members import MemberSpec
from ensembler.training.predictions import MemberPredictions
from ensembler.training.runner import SplitLike, assemble_member, run_jobs
from ensembler.training.soft_targets import SoftTargets
from ensembler.utils.atomic import save_npz, write_json
from ensembler.utils.runlock import JobGuard

#: leaderboard rows and bundle names of students: ``distilled:<student>``
PREFIX = "distilled:"
#: the label of a student's development AUC
OPTIMISTIC = "teacher saw these rows (optimistic)"
STUDENTS = Path("distill") / "students"
PREDICTIONS = Path("distill") / "predictions"
#: hard-label twins (the student's network, seeds and folds, alpha 0): folds, predictions
TWINS = Path("distill") / "hard_twins"
TWIN_PREDICTIONS = Path("distill") / "twin_predictions"
HARD_LABELS = "hard labels only (alpha 0)"


@dataclass
class SingleStudent:
    """The single student alone (``distill.fold_students: false``): one network trained on
    all development data for a fixed number of epochs. It has no out-of-fold predictions.

    ``test``: (N_test, C) probabilities; ``test_record_id``: (N_test,). Saved as
    ``<name>.single.npz`` + ``<name>.single.json`` (meta) beside the fold students' files.
    """

    name: str
    test: np.ndarray
    test_record_id: np.ndarray
    meta: MemberMeta = field(default_factory=lambda: MemberMeta(member=""))

    def save(self, folder: Path) -> Path:
        path = folder / f"{self.name}.single.npz"
        save_npz(path, test=self.test.astype(np.float32),
                 test_record_id=self.test_record_id.astype(str))
        write_json(path.with_suffix(".json"), self.meta.to_json_dict())
        return path

    @classmethod
    def load(cls, folder: Path, name: str) -> SingleStudent:
        path = folder / f"{name}.single.npz"
        if not path.is_file():
            raise StageError(f"{path}: the single student's predictions are missing; run "
                             "`ensembler distill` again")
        with np.load(path, allow_pickle=False) as z:
            test, ids = np.asarray(z["test"], np.float64), z["test_record_id"].astype(str)
        meta_path = path.with_suffix(".json")
        return cls(name=name, test=test, test_record_id=ids, meta=MemberMeta.from_json_dict(
            json.loads(meta_path.read_text()), str(meta_path)))


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


def hard_label_targets(labels: np.ndarray, fold_vec: np.ndarray) -> SoftTargets:
    """Targets of a hard-label twin: alpha 0, so only the hard-label BCE trains it (the same
    loss path, without ``pos_weight``, as a student). The "soft" columns are the labels
    themselves, so the twin's job key depends on no teacher and survives a new stack."""
    probs = np.full(np.shape(labels), np.nan, np.float32)
    dev = np.asarray(fold_vec) >= 0
    probs[dev] = np.asarray(labels, np.float32)[dev]
    return SoftTargets(probs=probs, alpha=0.0, temperature=1.0, source=HARD_LABELS)


def train_student(
    cfg: RunConfig, cohort: Cohort, split: SplitLike, run_dir: Path, spec: MemberSpec,
    targets: SoftTargets, single: bool = True, verbose: bool = True,
    guard: JobGuard | None = None, *, fold_students: bool = True,
    epochs: int | None = None, root: Path = STUDENTS, out: Path = PREDICTIONS,
) -> MemberPredictions | SingleStudent:
    """K fold students (early-stopped on each fold's inner split, hard labels) and, with
    ``single``, one student on all development data for their median best epoch.

    Without ``fold_students`` only the single student is trained, for ``epochs`` epochs,
    and a :class:`SingleStudent` is returned. Jobs are resumable like members' (same keys
    plus the targets' digest). Writes ``<out>/<name>.npz`` (the predictions contract;
    ``oof`` is the optimistic development estimate) and returns it. ``root``/``out``:
    where the fold folders and predictions go (hard-label twins: :data:`TWINS`)."""
    fold_vec = np.asarray(split.fold)
    common: dict[str, Any] = dict(run_seed=cfg.seed, cohort_fingerprint=cohort.fingerprint,
                                  split_fingerprint=split.fingerprint, targets=targets,
                                  root=str(root))
    twin = targets.source == HARD_LABELS  # the hard-label twin: honest OOF, no teacher
    extra = {"kind": "hard_twin" if twin else "distilled", "targets": targets.source,
             "alpha": targets.alpha, "temperature": targets.temperature,
             "oof_label": "out-of-fold" if twin else OPTIMISTIC}
    if not fold_students:
        if epochs is None:
            raise ConfigError("distill.epochs: the single student needs a number of epochs "
                              "when distill.fold_students is false")
        return _single_only(cfg, cohort, fold_vec, run_dir, FoldJob(
            spec, FULL, epochs=epochs, **common), run_dir / out, extra, verbose, guard)
    jobs = [FoldJob(spec, f, **common) for f in range(int(split.n_folds))]
    run_jobs(jobs, cohort, fold_vec, run_dir, cfg.training, verbose, guard,
             f"distilling {spec.name} (fold students)")
    full = None
    if single:
        best = [json.loads((j.folder(run_dir) / "meta.json").read_text())["best_epoch"]
                for j in jobs]
        full = FoldJob(spec, FULL, epochs=max(1, int(np.median(best))), **common)
        run_jobs([full], cohort, fold_vec, run_dir, cfg.training, verbose, guard,
                 f"distilling {spec.name} (single student)")
    missing = [j.fold for j in jobs + ([full] if full else []) if not job_is_done(j, run_dir)]
    if missing:
        raise StageError(f"distill: student {spec.name} jobs {missing} did not finish")
    return assemble_member(spec, jobs, cohort, fold_vec, run_dir, full,
                           out_dir=run_dir / out, extra_meta=extra)


def _single_only(cfg: RunConfig, cohort: Cohort, fold_vec: np.ndarray, run_dir: Path,
                 job: FoldJob, out: Path, extra: dict[str, Any], verbose: bool,
                 guard: JobGuard | None) -> SingleStudent:
    """Train (or reuse) the single student alone and save its test predictions."""
    run_jobs([job], cohort, fold_vec, run_dir, cfg.training, verbose, guard,
             f"distilling {job.member.name} (single student only)")
    if not job_is_done(job, run_dir):
        raise StageError(f"distill: the single student {job.member.name} did not finish")
    folder = job.folder(run_dir)
    with np.load(folder / "preds.npz", allow_pickle=False) as z:
        test = np.asarray(z["test"], np.float64)
    meta = json.loads((folder / "meta.json").read_text())
    result = SingleStudent(
        name=job.member.name, test=test,
        test_record_id=cohort.record_id[fold_vec == -1].astype(str),
        meta=MemberMeta(**{**extra, "member": job.member.name,
                           "config": job.member.describe(), "fold_students": False,
                           "epochs": job.epochs, "n_params": meta["n_params"],
                           "train_seconds": [meta["train_seconds"]],
                           "inference_ms_per_ecg": meta["inference_ms_per_ecg"]}))
    result.save(out)
    return result
