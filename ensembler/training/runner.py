"""The out-of-fold runner: every (member, fold) job, in parallel, resumable.

Jobs run through joblib (``loky`` by default, ``dask`` with a scheduler address);
each job's torch threads are capped so jobs do not oversubscribe the cores. Seeds
come from (run seed, member entry, replica, fold), never from scheduling order, so
parallel, sequential and resumed runs give identical predictions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from joblib import Parallel, delayed, parallel_config

from ensembler.config import RunConfig, TrainingConfig
from ensembler.config.issues import config_error
from ensembler.config.params import check_models
from ensembler.data.cohort import Cohort
from ensembler.errors import ConfigError, PredictionsError
from ensembler.pipeline.stage import FIRST_RUN
from ensembler.training.jobs import FULL, FoldJob, job_is_done, run_fold_job
from ensembler.training.member_meta import MemberMeta
from ensembler.training.members import MemberSpec, expand_entry
from ensembler.training.predictions import MemberPredictions, assemble_oof
from ensembler.utils.progress import LogFile, job_progress
from ensembler.utils.runlock import JobGuard
from ensembler.utils.threads import available_cpus


class SplitLike(Protocol):
    @property
    def fold(self) -> np.ndarray: ...
    @property
    def n_folds(self) -> int: ...
    @property
    def fingerprint(self) -> str: ...


@dataclass
class TrainSummary:
    predictions: dict[str, MemberPredictions]
    jobs_run: int
    jobs_skipped: int


def model_tabular_names(cfg: RunConfig, cohort: Cohort) -> list[str]:
    """Tabular columns offered to fused models (``data.tabular`` or all)."""
    if cfg.data.tabular is None:
        return list(cohort.tabular_names)
    unknown = [n for n in cfg.data.tabular if n not in cohort.tabular_names]
    if unknown:
        raise ConfigError(
            f"data.tabular: unknown columns {unknown}; the cohort has {cohort.tabular_names}"
        )
    return list(cfg.data.tabular)


def member_specs(
    cfg: RunConfig,
    cohort: Cohort,
    tuned: dict[str, dict[str, Any]] | None = None,
    only: list[str] | None = None,
) -> list[MemberSpec]:
    """All members of the config (replicas expanded); ``only`` filters by entry or member.

    User architectures (``module.path:callable``), which the config loader does not
    import, have their ``params`` checked here, before any model is trained.
    """
    tab = model_tabular_names(cfg, cohort)
    issues = check_models(cfg.models, len(tab), import_user=True)
    if issues:
        raise config_error("config", issues)
    specs: list[MemberSpec] = []
    for entry in cfg.models:
        specs += expand_entry(entry, cfg, tab, (tuned or {}).get(entry.name))
    if only:
        known = {s.name for s in specs} | {s.entry for s in specs}
        unknown = sorted(set(only) - known)
        if unknown:
            raise ConfigError(f"--models: unknown {unknown}; known: {sorted(known)}")
        specs = [s for s in specs if s.name in only or s.entry in only]
    return specs


def _threads(tcfg: TrainingConfig, n_jobs: int) -> int:
    if tcfg.threads_per_job:
        return tcfg.threads_per_job
    return max(1, available_cpus() // max(1, n_jobs))


@contextlib.contextmanager
def _backend(tcfg: TrainingConfig) -> Iterator[str]:
    if tcfg.backend == "dask" or tcfg.scheduler_address:
        from dask.distributed import Client

        client = Client(tcfg.scheduler_address) if tcfg.scheduler_address else Client(
            processes=True, n_workers=max(1, tcfg.n_jobs), threads_per_worker=1)
        try:
            with parallel_config(backend="dask"):
                yield "dask"
        finally:
            client.close()
    elif tcfg.backend == "sequential" or tcfg.n_jobs == 1:
        with parallel_config(backend="sequential"):
            yield "sequential"
    else:
        with parallel_config(backend="loky"):
            yield "loky"


def run_jobs(
    jobs: list[FoldJob], cohort: Cohort, fold_vec: np.ndarray, run_dir: Path,
    tcfg: TrainingConfig, verbose: bool = True, guard: JobGuard | None = None,
    what: str = "training",
) -> list[dict[str, Any]]:
    """Run the jobs that are not done yet; returns their meta dicts (in completion order).

    ``verbose``: one progress display over the jobs; per-epoch lines always go to
    ``<run_dir>/logs/training.log``. ``guard`` (default: no lock token) makes worker
    processes exit with this process and refuses writes into a directory another run
    holds."""
    todo = _jobs_to_run(jobs, run_dir, verbose)
    if not todo:
        return []
    n_jobs = max(1, min(tcfg.n_jobs, len(todo)))
    threads = _threads(tcfg, n_jobs)
    guard = guard or JobGuard.for_run(run_dir, None)
    log = LogFile.training(run_dir)
    metas = []
    with _backend(tcfg), job_progress(len(todo), what, verbose, log) as done:
        results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(run_fold_job)(j, cohort, fold_vec, run_dir, threads, log, guard)
            for j in todo
        )
        for meta in results:
            metas.append(meta)
            fold = "full" if meta["fold"] == FULL else f"fold {meta['fold'] + 1}"
            done(f"{meta['member']} {fold}")
    return metas


def _jobs_to_run(jobs: list[FoldJob], run_dir: Path, verbose: bool) -> list[FoldJob]:
    """The jobs whose stage is not current; says why each rerun reruns."""
    todo = []
    for job in jobs:
        stage = job.stage(run_dir)
        reason = stage.why()
        if reason is not None:
            todo.append(job)
            if verbose and reason != FIRST_RUN:
                print(f"{stage.name}: rerunning ({reason})")
    return todo


def _fold_meta(job: FoldJob, run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((job.folder(run_dir) / "meta.json").read_text()))


def _fold_outputs(job: FoldJob, run_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with np.load(job.folder(run_dir) / "preds.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, _fold_meta(job, run_dir)


def assemble_member(
    spec: MemberSpec, jobs: list[FoldJob], cohort: Cohort, fold_vec: np.ndarray, run_dir: Path,
    full_job: FoldJob | None = None, out_dir: Path | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> MemberPredictions:
    """Collect a member's fold outputs into the predictions contract (row-counted) and save
    it in ``out_dir`` (default: the run's ``predictions/``, which stacking reads)."""
    dev_rows = np.flatnonzero(fold_vec >= 0)
    test_rows = np.flatnonzero(fold_vec == -1)
    pos_in_dev = np.full(len(fold_vec), -1)
    pos_in_dev[dev_rows] = np.arange(len(dev_rows))
    fold_rows, fold_preds, tests, metas = {}, {}, [], []
    for job in sorted(jobs, key=lambda j: j.fold):
        arrays, meta = _fold_outputs(job, run_dir)
        fold_rows[job.fold] = pos_in_dev[arrays["oof_rows"]]
        fold_preds[job.fold] = arrays["oof"]
        tests.append(arrays["test"])
        metas.append(meta)
    oof = assemble_oof(spec.name, len(dev_rows), fold_rows, fold_preds)
    refit = None
    meta_full = None
    if full_job is not None:
        arrays, meta_full = _fold_outputs(full_job, run_dir)
        refit = arrays["test"]
    fields: dict[str, Any] = {"kind": "network", **(extra_meta or {})}
    member_meta = MemberMeta(
        member=spec.name, config=spec.describe(),
        cohort_fingerprint=jobs[0].cohort_fingerprint,
        split_fingerprint=jobs[0].split_fingerprint,
        best_epoch=[m["best_epoch"] for m in metas],
        train_seconds=[m["train_seconds"] for m in metas],
        fold_oof_auc=[m["oof_auc"] for m in metas],
        n_params=metas[0]["n_params"],
        inference_ms_per_ecg=float(np.median([m["inference_ms_per_ecg"] for m in metas])),
        seeds=[m["seed"] for m in metas], refit_full=meta_full, tuned=spec.tuned, **fields)
    preds = MemberPredictions(
        name=spec.name, oof=oof, test_by_fold=np.stack(tests),
        dev_record_id=cohort.record_id[dev_rows], test_record_id=cohort.record_id[test_rows],
        fold=fold_vec[dev_rows], class_names=list(cohort.class_names),
        test_refit=refit, meta=member_meta,
    )
    preds.save(out_dir or run_dir / "predictions")
    return preds


def train_members(
    cfg: RunConfig,
    cohort: Cohort,
    split: SplitLike,
    run_dir: Path,
    specs: list[MemberSpec],
    folds: list[int] | None = None,
    verbose: bool = True,
    guard: JobGuard | None = None,
) -> TrainSummary:
    """Train every (member, fold) not yet done, then write predictions of complete members.

    ``verbose``: progress display; ``guard``: see :func:`run_jobs`."""
    fold_vec = np.asarray(split.fold)
    k = int(split.n_folds)
    if folds is not None:
        bad = [f for f in folds if not 0 <= f < k]
        if bad:
            raise ConfigError(f"--folds: {bad} out of range 0..{k - 1}")
    wanted = list(range(k)) if folds is None else sorted(set(folds))
    jobs = {
        s.name: [FoldJob(s, f, cfg.seed, cohort.fingerprint, split.fingerprint) for f in range(k)]
        for s in specs
    }
    selected = [j for s in specs for j in jobs[s.name] if j.fold in wanted]
    skipped = sum(job_is_done(j, run_dir) for j in selected)
    ran = run_jobs(selected, cohort, fold_vec, run_dir, cfg.training, verbose, guard)
    out: dict[str, MemberPredictions] = {}
    full_jobs: list[FoldJob] = []
    complete = [s for s in specs if all(job_is_done(j, run_dir) for j in jobs[s.name])]
    for spec in complete:
        if spec.training.refit_full:
            epochs = [_fold_meta(j, run_dir)["best_epoch"] for j in jobs[spec.name]]
            full_jobs.append(FoldJob(spec, FULL, cfg.seed, cohort.fingerprint, split.fingerprint,
                                     epochs=max(1, int(np.median(epochs)))))
    ran += run_jobs(full_jobs, cohort, fold_vec, run_dir, cfg.training, verbose, guard,
                    "refit on all development data")
    full_by_name = {j.member.name: j for j in full_jobs}
    for spec in complete:
        out[spec.name] = assemble_member(spec, jobs[spec.name], cohort, fold_vec, run_dir,
                                         full_by_name.get(spec.name))
    return TrainSummary(predictions=out, jobs_run=len(ran), jobs_skipped=skipped)


def register_external(
    name: str, path: str | Path, cohort: Cohort, split: SplitLike, run_dir: Path
) -> MemberPredictions:
    """Copy predictions made elsewhere into the run as member ``name`` after checking that
    their rows are exactly this run's development/test records and folds."""
    ext = MemberPredictions.load(path, name=name)
    fold_vec = np.asarray(split.fold)
    dev_ids = cohort.record_id[fold_vec >= 0].astype(str)
    test_ids = cohort.record_id[fold_vec == -1].astype(str)
    if list(ext.class_names) != list(cohort.class_names):
        raise PredictionsError(
            f"{path}: class_names {ext.class_names} differ from the cohort's {cohort.class_names}"
        )
    order_dev = _align(ext.dev_record_id, dev_ids, path, "development")
    order_test = _align(ext.test_record_id, test_ids, path, "test")
    if not np.array_equal(ext.fold[order_dev], fold_vec[fold_vec >= 0]):
        raise PredictionsError(
            f"{path}: its fold vector differs from this run's split; external OOF must come "
            "from the same patient folds, or the stacker would see leaked rows"
        )
    aligned = MemberPredictions(
        name=name, oof=ext.oof[order_dev], test_by_fold=ext.test_by_fold[:, order_test],
        dev_record_id=dev_ids, test_record_id=test_ids, fold=fold_vec[fold_vec >= 0],
        class_names=list(cohort.class_names),
        meta=dataclasses.replace(ext.meta, member=name, kind="external", external=str(path)),
    )
    aligned.save(run_dir / "predictions")
    return aligned


def _align(have: np.ndarray, want: np.ndarray, path: str | Path, part: str) -> np.ndarray:
    index = {r: i for i, r in enumerate(have.astype(str))}
    missing = [r for r in want if r not in index]
    if missing or len(have) != len(want):
        raise PredictionsError(
            f"{path}: {part} records differ from this run's ({len(missing)} missing, "
            f"e.g. {[str(r) for r in missing[:3]]}; {len(have)} rows vs {len(want)} expected)"
        )
    return np.array([index[r] for r in want])
