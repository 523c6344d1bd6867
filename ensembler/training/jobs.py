"""One (member, fold) training job: train, predict OOF + test, save atomically.

A job's outputs live in ``<root>/<member>/fold_<k>/`` (root ``base`` for members):
``weights.safetensors``, ``state.json`` (fitted preprocessing), ``curve.csv``, ``preds.npz`` and
``meta.json`` and ``stage.json`` (the job's :class:`~ensembler.pipeline.stage.Stage`
record, written last). A job whose folder has a current ``stage.json`` is skipped.

A job with a ``subset`` (a point of the member-mode learning curve) trains on that share
of the fold's training patients and predicts only the fold's out-of-fold rows: it never
reads a test row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from ensembler.data.cohort import Cohort
from ensembler.pipeline.stage import Stage
from ensembler.training.inner import PatientSubset, inner_split, patient_bootstrap
from ensembler.training.loop import FitResult, fit_model, resolve_device, window_lengths
from ensembler.training.members import MemberSpec
from ensembler.training.metrics import macro_auc
from ensembler.training.soft_targets import SoftTargets
from ensembler.training.windows import predict_windows
from ensembler.utils.atomic import atomic_dir, marked_by, save_npz, write_json
from ensembler.utils.runlock import JobGuard
from ensembler.utils.seeds import derive_seed

FULL = -1  # pseudo fold index of the refit-full model
OUTPUTS = ("weights.safetensors", "state.json", "curve.csv", "preds.npz", "meta.json")


@dataclass(frozen=True)
class FoldJob:
    member: MemberSpec
    fold: int  # 0..K-1, or FULL
    run_seed: int
    cohort_fingerprint: str
    split_fingerprint: str
    epochs: int | None = None  # refit-full: the median best epoch
    targets: SoftTargets | None = None  # distilled students: the teacher's probabilities
    root: str = "base"  # folder under the run dir (distilled students: "distill")
    subset: PatientSubset | None = None  # learning curves: a share of the training patients

    @property
    def seed(self) -> int:
        m = self.member
        return derive_seed(self.run_seed, m.entry, m.replica_kind, m.replica_index, self.fold)

    def folder(self, run_dir: Path) -> Path:
        leaf = "full" if self.fold == FULL else f"fold_{self.fold}"
        return run_dir / self.root / self.member.name / leaf

    def stage(self, run_dir: Path) -> Stage[None]:
        """The job as a stage: its ``stage.json`` is written inside the job's atomic folder
        (by :func:`run_fold_job`, in a worker), so only its key and checks are used here."""
        folder = self.folder(run_dir)
        inputs: dict[str, Any] = {
            "member": self.member.describe(), "fold": self.fold, "seed": self.seed,
            "cohort": self.cohort_fingerprint, "split": self.split_fingerprint,
            "epochs": self.epochs}
        if self.targets is not None:  # a distilled student: its soft targets
            inputs["targets"] = self.targets.describe()
        if self.subset is not None:  # a learning-curve point: its share of the patients
            inputs["subset"] = self.subset.describe()
        return Stage(f"training {self.member.name} {folder.name}", folder / "stage.json",
                     inputs=inputs, outputs=[folder / n for n in OUTPUTS])


def job_is_done(job: FoldJob, run_dir: Path) -> bool:
    return job.stage(run_dir).why() is None


def member_tabular(cohort: Cohort, names: tuple[str, ...]) -> np.ndarray | None:
    """The cohort's tabular columns ``names`` (N, F) as float32, or None when empty."""
    if not names:
        return None
    cols = [cohort.tabular_names.index(n) for n in names]
    return np.asarray(cohort.tabular[:, cols], dtype=np.float32)


def run_fold_job(
    job: FoldJob,
    cohort: Cohort,
    fold_vec: np.ndarray,
    run_dir: Path,
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
    guard: JobGuard | None = None,
) -> dict[str, Any]:
    """Train the job's model and write its folder atomically; returns its meta dict.

    ``log`` receives the per-epoch lines. ``guard``: in a worker process, exit when the
    parent dies; before the output is moved into place, refuse a run directory whose lock
    this job does not share."""
    if guard is not None:
        guard.start()
    if threads:
        torch.set_num_threads(threads)
    spec = job.member
    fold_vec = np.asarray(fold_vec)
    test_rows = np.flatnonzero(fold_vec == -1)
    if job.subset is not None:  # a learning-curve point: development rows only
        test_rows = np.zeros(0, dtype=np.int64)
    train_idx, val_idx, oof_rows = _job_rows(job, cohort, fold_vec)
    tab = member_tabular(cohort, spec.tabular_names)
    device = resolve_device(spec.training.device)
    label = "full" if job.fold == FULL else f"fold {job.fold + 1}/{int(fold_vec.max()) + 1}"
    if job.subset is not None:
        label += f" on {job.subset.fraction:.0%} of its patients"
    result = fit_model(
        spec, cohort.signals, cohort.labels, tab, cohort.fs, train_idx, val_idx,
        seed=job.seed, epochs=job.epochs, device=device,
        log=log, log_prefix=f"[{spec.name} {label}] ", targets=job.targets,
    )
    oof_pred, test_pred, infer_ms = _fold_predictions(result, spec, cohort, tab, device,
                                                      oof_rows, test_rows)
    stage = job.stage(run_dir)
    meta = {
        "fingerprint": stage.key,
        "member": spec.name,
        "fold": job.fold,
        "seed": job.seed,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.curve),
        "train_seconds": result.seconds,
        "n_params": result.n_params,
        "inference_ms_per_ecg": infer_ms,
        "n_train": len(train_idx),
        "n_val": 0 if val_idx is None else len(val_idx),
        "oof_auc": macro_auc(cohort.labels[oof_rows], oof_pred) if len(oof_rows) else None,
        "device": str(device),
    }  # the member's spec is stored once, in predictions/<member>.json
    with atomic_dir(job.folder(run_dir), marked_by("meta.json")) as tmp:
        _write_fold(tmp, result, oof_rows, oof_pred, test_pred, meta)
        write_json(tmp / "stage.json", stage.record({}))
        if guard is not None:
            guard.check()  # the run directory is still ours: move the folder into place
    return meta


def _fold_predictions(result: FitResult, spec: MemberSpec, cohort: Cohort,
                      tab: np.ndarray | None, device: torch.device, oof_rows: np.ndarray,
                      test_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The fitted model's OOF (len(oof_rows), C) and test (len(test_rows), C) probabilities
    and its test inference milliseconds per ECG."""
    win, stride = window_lengths(spec, cohort.fs, cohort.signals.shape[-1])

    def predict(rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros((0, cohort.n_classes), np.float32)
        x = result.state.transform_signals(cohort.signals[rows])
        t = result.state.transform_tabular(None if tab is None else tab[rows])
        return predict_windows(result.model, x, t, win, stride, spec.training.eval_aggregate,
                               device=device, autocast=device.type == "cuda")

    oof_pred = predict(oof_rows)
    t0 = time.perf_counter()
    test_pred = predict(test_rows)
    return oof_pred, test_pred, 1000 * (time.perf_counter() - t0) / max(len(test_rows), 1)


def _job_rows(job: FoldJob, cohort: Cohort, fold_vec: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(train_idx, val_idx, oof_rows)`` of a fold job: the fold's training part (or the
    job's ``subset`` of its patients) minus its inner early-stopping split (None for a
    refit-full job, which has no OOF rows), then resampled by patient for a bootstrap
    replica."""
    spec = job.member
    if job.fold == FULL:
        oof_rows = np.zeros(0, dtype=np.int64)
        train_idx, val_idx = np.flatnonzero(fold_vec >= 0), None
    else:
        train_part = np.flatnonzero((fold_vec >= 0) & (fold_vec != job.fold))
        oof_rows = np.flatnonzero(fold_vec == job.fold)
        if job.subset is not None:  # a learning-curve point: a share of the patients
            train_part = job.subset.rows(train_part, cohort.patient_id, job.fold)
        # the early-stopping split is carved before any bootstrap resampling, so no
        # patient can sit on both sides of it
        train_idx, val_idx = inner_split(
            train_part, cohort.labels, cohort.patient_id,
            spec.training.inner_val_fraction, derive_seed(job.seed, "inner"),
        )
    if spec.replica_kind == "bootstrap":
        train_idx = patient_bootstrap(train_idx, cohort.patient_id, derive_seed(job.seed, "boot"))
    return train_idx, val_idx, oof_rows


def _write_fold(tmp: Path, result: FitResult, oof_rows: np.ndarray, oof_pred: np.ndarray,
                test_pred: np.ndarray, meta: dict[str, Any]) -> None:
    """A fold folder's files: weights (safetensors), fitted preprocessing state, training
    curve, OOF/test predictions and ``meta.json``."""
    sd = result.model.state_dict()
    state_dict = {k: v.detach().cpu().contiguous() for k, v in sd.items()}
    save_file(state_dict, str(tmp / "weights.safetensors"))
    result.state.to_json(tmp / "state.json")
    result.curve.to_csv(tmp / "curve.csv", index=False)
    save_npz(tmp / "preds.npz", oof_rows=oof_rows, oof=oof_pred, test=test_pred)
    write_json(tmp / "meta.json", meta)
