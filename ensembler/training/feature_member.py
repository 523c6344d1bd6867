"""The ``features`` member kind: a named ECG feature set + a learner per fold (LightGBM
boosters or a logistic regression, one model per class; see
:mod:`ensembler.training.feature_learners`), under the run's folds and the same inner
patient-grouped early-stopping split as the networks. It writes the same predictions
contract, so stacking, comparison and the report treat it like any member.

Per fold ``k`` the outputs live in ``base/<member>/fold_<k>/``: ``booster_<c>.txt``
(LightGBM's own text model) or ``logistic.json``, ``preds.npz`` and ``meta.json``, plus
the fold's ``stage.json`` (:class:`~ensembler.pipeline.stage.Stage`: a fold whose inputs
are unchanged is skipped, so runs resume). The features come from
:func:`ensembler.features.compute.compute_features`, cached under ``<run>/features/``
per (cohort fingerprint, feature-set spec).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ensembler.config import FeatureMemberEntry, RunConfig
from ensembler.data.cohort import Cohort
from ensembler.features import create_feature_set
from ensembler.features.compute import FeatureTable, compute_features
from ensembler.pipeline.stage import Stage
from ensembler.training.feature_learners import fit_learner, read_learner, write_learner
from ensembler.training.inner import PatientSubset, inner_split
from ensembler.training.member_meta import MemberMeta
from ensembler.training.metrics import macro_auc
from ensembler.training.predictions import MemberPredictions, assemble_oof
from ensembler.utils.atomic import atomic_dir, marked_by, save_npz, write_json
from ensembler.utils.seeds import derive_seed

KIND = "features"


def feature_matrix(entry: FeatureMemberEntry, table: FeatureTable, cohort: Cohort,
                   tabular_names: list[str]) -> tuple[np.ndarray, list[str]]:
    """``(N, F)`` float64 learner input (features, then tabular columns) and column names."""
    if not entry.tabular or not tabular_names:
        return learner_input(table.values, None), list(table.columns)
    cols = [cohort.tabular_names.index(n) for n in tabular_names]
    return (learner_input(table.values, cohort.tabular[:, cols]),
            [*table.columns, *tabular_names])


def learner_input(features: np.ndarray, tabular: np.ndarray | None) -> np.ndarray:
    """``(N, F + T)`` float64 boosters' input: ``features`` (N, F) float32, then the raw
    ``tabular`` columns (N, T) (NaN = missing), as in training and in a bundle."""
    x = np.asarray(features, np.float32).astype(np.float64)
    if tabular is None:
        return x
    return np.hstack([x, np.asarray(tabular, np.float32).astype(np.float64)])


def fold_stage(entry: FeatureMemberEntry, cfg: RunConfig, cohort: Cohort,
               fold_vec: np.ndarray, fold: int, x: np.ndarray, names: list[str],
               folder: Path, split_fp: str, table: FeatureTable, progress: bool,
               subset: PatientSubset | None = None) -> Stage[dict[str, Any]]:
    """Fold ``fold`` of a feature member as a stage (skipped when its inputs are unchanged).

    ``subset``: a learning-curve point (see :class:`~ensembler.training.inner.PatientSubset`):
    that share of the fold's training patients, out-of-fold rows predicted, no test row read.
    """
    seed = derive_seed(cfg.seed, entry.name, "none", 0, fold)
    inputs = {"entry": entry, "fold": fold, "seed": seed, "cohort": cohort.fingerprint,
              "split": split_fp, "features": [table.spec, table.versions],
              "inner": cfg.training.inner_val_fraction}
    if subset is not None:
        inputs["subset"] = subset.describe()
    stage: Stage[dict[str, Any]] = Stage(
        f"training {entry.name} {folder.name}", folder / "stage.json", inputs=inputs,
        outputs=[folder / "meta.json", folder / "preds.npz"], say=print if progress else None)
    stage.run = lambda: (_fold_job(entry, cfg, cohort, fold_vec, fold, x, names, folder,
                                   stage.key, seed, table.cpu_ms_per_ecg, subset), {})
    stage.load = lambda _: dict(json.loads((folder / "meta.json").read_text()))
    return stage


def _fold_job(entry: FeatureMemberEntry, cfg: RunConfig, cohort: Cohort, fold_vec: np.ndarray,
              fold: int, x: np.ndarray, names: list[str], folder: Path, key: str,
              seed: int, feature_ms: float, subset: PatientSubset | None = None
              ) -> dict[str, Any]:
    """Fit fold ``fold``'s learner and write its folder atomically; returns its meta."""
    train_part = np.flatnonzero((fold_vec >= 0) & (fold_vec != fold))
    oof_rows = np.flatnonzero(fold_vec == fold)
    test_rows = np.flatnonzero(fold_vec == -1)
    if subset is not None:  # a learning-curve point: development rows only
        train_part = subset.rows(train_part, cohort.patient_id, fold)
        test_rows = np.zeros(0, dtype=np.int64)
    train, val = inner_split(train_part, cohort.labels, cohort.patient_id,
                             cfg.training.inner_val_fraction, derive_seed(seed, "inner"))
    t0 = time.perf_counter()
    model = fit_learner(entry, x, cohort.labels, train, val, seed, names)
    seconds = time.perf_counter() - t0
    oof = model.predict(x[oof_rows])
    t1 = time.perf_counter()
    test = model.predict(x[test_rows])
    infer_ms = 1000 * (time.perf_counter() - t1) / max(len(test_rows), 1)
    meta = {"fingerprint": key, "member": entry.name, "kind": KIND, "fold": fold, "seed": seed,
            "learner": entry.learner, "best_epoch": model.rounds(),
            "train_seconds": seconds, "n_train": len(train), "n_val": len(val),
            "n_params": model.n_params(),
            "booster_ms_per_ecg": infer_ms, "n_columns": x.shape[1],
            "feature_cpu_ms_per_ecg": feature_ms,
            "oof_auc": macro_auc(cohort.labels[oof_rows], oof) if len(oof_rows) else None}
    with atomic_dir(folder, marked_by("meta.json")) as tmp:
        write_learner(model, tmp)
        save_npz(tmp / "preds.npz", oof_rows=oof_rows, oof=oof, test=test)
        write_json(tmp / "meta.json", meta)
    return meta


def member_inputs(entry: FeatureMemberEntry, cohort: Cohort, run_dir: Path,
                  tabular_names: list[str], progress: bool = False
                  ) -> tuple[FeatureTable, np.ndarray, list[str]]:
    """The member's feature table (computed, or read from ``<run>/features``), its ``(N, F)``
    learner input and column names — what training and the member's tuning study read."""
    fset = create_feature_set(entry.feature_set, allow_import=True, **entry.feature_params)
    table = compute_features(fset, cohort, run_dir / "features", entry.n_jobs, progress)
    x, names = feature_matrix(entry, table, cohort, tabular_names)
    return table, x, names


def model_label(entry: FeatureMemberEntry) -> str:
    """What the member is, for tables: ``features:<feature set>+<learner>``."""
    return f"features:{entry.feature_set}+{entry.learner}"


def tuned_entry(entry: FeatureMemberEntry, tuned: dict[str, Any] | None) -> FeatureMemberEntry:
    """``entry`` with its study's best learner settings (``{"lightgbm": {...}}`` or
    ``{"logistic": {...}}``) when ``entry.use_tuned``; settings written in the config win,
    as a network entry's ``params`` win over its tuned ones."""
    if not tuned or not entry.use_tuned:
        return entry
    update: dict[str, Any] = {}
    for section in ("lightgbm", "logistic"):
        if section in tuned:
            current = getattr(entry, section)
            given = {k: getattr(current, k) for k in current.model_fields_set}
            update[section] = type(current).model_validate({**current.model_dump(),
                                                            **tuned[section], **given})
    return entry.model_copy(update=update)


def train_feature_member(entry: FeatureMemberEntry, cfg: RunConfig, cohort: Cohort,
                         fold_vec: np.ndarray, split_fingerprint: str, run_dir: Path,
                         tabular_names: list[str], progress: bool = False,
                         tuned: dict[str, Any] | None = None) -> MemberPredictions:
    """Compute (or read) the features, fit every fold not done yet, write the predictions.

    ``tuned``: the member's study's best learner settings (see :func:`tuned_entry`)."""
    is_tuned = bool(tuned) and entry.use_tuned
    entry = tuned_entry(entry, tuned)
    table, x, names = member_inputs(entry, cohort, run_dir, tabular_names, progress)
    fold_vec = np.asarray(fold_vec)
    k = int(fold_vec.max()) + 1
    metas, fold_rows, fold_preds, tests = [], {}, {}, []
    dev_rows = np.flatnonzero(fold_vec >= 0)
    pos_in_dev = np.full(len(fold_vec), -1)
    pos_in_dev[dev_rows] = np.arange(len(dev_rows))
    for fold in range(k):
        folder = run_dir / "base" / entry.name / f"fold_{fold}"
        meta = fold_stage(entry, cfg, cohort, fold_vec, fold, x, names, folder,
                          split_fingerprint, table, progress).execute()
        with np.load(folder / "preds.npz", allow_pickle=False) as z:
            fold_rows[fold], fold_preds[fold] = pos_in_dev[z["oof_rows"]], z["oof"]
            tests.append(z["test"])
        metas.append(meta)
    return _assemble(entry, cohort, fold_vec, run_dir, table, names, metas, fold_rows,
                     fold_preds, tests, split_fingerprint, tuned=is_tuned)


def _assemble(entry: FeatureMemberEntry, cohort: Cohort, fold_vec: np.ndarray, run_dir: Path,
              table: FeatureTable, names: list[str], metas: list[dict[str, Any]],
              fold_rows: dict[int, np.ndarray], fold_preds: dict[int, np.ndarray],
              tests: list[np.ndarray], split_fingerprint: str, tuned: bool) -> MemberPredictions:
    dev_rows = np.flatnonzero(fold_vec >= 0)
    test_rows = np.flatnonzero(fold_vec == -1)
    oof = assemble_oof(entry.name, len(dev_rows), fold_rows, fold_preds)
    fields: dict[str, Any] = {
        "member": entry.name, "kind": KIND,
        "config": {"name": entry.name, "entry": entry.name, "kind": KIND,
                   "replica": ["none", 0], **entry.model_dump(mode="json")},
        "feature_set": table.spec, "feature_versions": table.versions,
        "feature_columns": names, "tabular_names": names[len(table.columns):],
        "feature_cpu_ms_per_ecg": table.cpu_ms_per_ecg,
        "cohort_fingerprint": cohort.fingerprint, "split_fingerprint": split_fingerprint,
        "best_epoch": [m["best_epoch"] for m in metas],
        "train_seconds": [m["train_seconds"] for m in metas],
        "fold_oof_auc": [m["oof_auc"] for m in metas],
        "n_params": metas[0]["n_params"],
        "inference_ms_per_ecg": table.cpu_ms_per_ecg
        + float(np.median([m["booster_ms_per_ecg"] for m in metas])),
        "seeds": [m["seed"] for m in metas], "refit_full": None, "tuned": tuned,
        "learner": entry.learner,
    }  # fmt: skip
    meta = MemberMeta(**fields)
    preds = MemberPredictions(
        name=entry.name, oof=oof, test_by_fold=np.stack(tests),
        dev_record_id=cohort.record_id[dev_rows], test_record_id=cohort.record_id[test_rows],
        fold=fold_vec[dev_rows], class_names=list(cohort.class_names), meta=meta,
    )
    preds.save(run_dir / "predictions")
    return preds


def feature_member_latency(folder: Path, repeats: int, batch_sizes: tuple[int, ...] = (1, 64),
                           features: bool = True) -> dict[int, Any]:
    """ms per ECG of fold ``folder``'s model: the feature computation's CPU time per ECG
    (measured on the cohort when the features were computed; left out when ``features`` is
    False) plus the learner's time, measured here on a batch of that many rows."""
    from ensembler.evaluation import LatencyStats, measure_latency

    meta = json.loads((folder / "meta.json").read_text())
    n_classes = len(meta["best_epoch"])
    model = read_learner(folder, meta.get("learner", "lightgbm"), int(meta["n_columns"]),
                         n_classes)
    x = np.zeros((max(batch_sizes), int(meta["n_columns"])))
    stats = measure_latency(lambda bs: model.predict(x[:bs]),
                            batch_sizes=batch_sizes, repeats=repeats, warmup=1)
    extra = float(meta["feature_cpu_ms_per_ecg"]) if features else 0.0
    return {bs: LatencyStats(batch_size=bs, p50_ms=s.p50_ms + extra, p95_ms=s.p95_ms + extra,
                             repeats=s.repeats) for bs, s in stats.items()}  # fmt: skip
