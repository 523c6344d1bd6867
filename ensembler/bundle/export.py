"""``export_bundle``: a run's chosen stack and its members, frozen into a verifiable folder.

The bundle is written into a temporary sibling folder and renamed into place only
after it has been sealed, re-loaded through :func:`load_bundle` (the same
verification a receiver runs) and checked for parity against the run's own stacked
test predictions (see :mod:`ensembler.bundle.parity`). A failed or interrupted export
leaves nothing behind; an existing folder is replaced only if it is a bundle (or with
``force``). Only the run directory is needed: the raw data is read only for the
optional raw-record parity check.
"""

from __future__ import annotations

import datetime as dt
import platform
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ensembler.bundle.bundle import Bundle, load_bundle
from ensembler.bundle.card import model_card
from ensembler.bundle.conformal_io import conformal_entry
from ensembler.bundle.estimates import development_estimate, refit_full_headline
from ensembler.bundle.feature_io import KIND as FEATURES
from ensembler.bundle.feature_io import feature_member_entry, own_feature_sets
from ensembler.bundle.imputation import development_means, tabular_missingness
from ensembler.bundle.integrity import is_bundle, json_clean, read_verified, seal, zip_bundle
from ensembler.bundle.members import spec_from_description
from ensembler.bundle.onnx_io import export_members_onnx
from ensembler.bundle.parity import (
    cache_parity,
    raw_parity,
    record_paths,
    reference,
    require_ok,
)
from ensembler.bundle.run_inputs import (
    MEMBER_MODES,
    MemberSource,
    RunInputs,
    pipeline_test_predictions,
    read_run,
)
from ensembler.data.cohort import Cohort
from ensembler.errors import ConfigError, StageError
from ensembler.evaluation import measure_latency, roc_auc
from ensembler.training.loop import window_lengths
from ensembler.utils.atomic import FolderExistsError, atomic_dir, check_target


@dataclass
class ExportResult:
    path: Path
    zip_path: Path | None
    manifest: dict[str, Any]


def _versions(onnx: bool, features: bool = False) -> dict[str, str]:
    names = ["ensembler", "torch", "scikit-learn", "lightgbm", "numpy", "scipy", "safetensors"]
    if onnx:
        names += ["onnx", "onnxruntime"]
    if features:  # feature members: the ECG delineation library their features came from
        names += ["neurokit2"]
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def choose_member_mode(requested: str, inp: RunInputs) -> tuple[str, str]:
    """(mode, reason). ``auto`` never looks at test data.

    Fold-average is what the meta-learner was fitted and cross-validated on: its stacked
    meta-level OOF AUC is an honest development estimate. Refit-full models have no
    out-of-fold predictions, so no development estimate exists for them; ``auto``
    therefore ships fold-average, and refit-full only on explicit request.
    """
    if requested not in ("auto", *MEMBER_MODES):
        raise ConfigError(f"export.members: {requested!r}; expected auto or one of {MEMBER_MODES}")
    if requested == "refit-full":
        if not inp.has_refit:
            lacking = [m.name for m in inp.members if m.full_dir is None]
            raise StageError(f"--members refit-full: no refit-full model for {lacking}; set "
                             "training.refit_full: true and retrain, or use fold-average")
        return "refit-full", "requested explicitly (export.members / --members refit-full)"
    if requested == "fold-average":
        return "fold-average", "requested explicitly (export.members / --members fold-average)"
    return "fold-average", (
        "auto: the fold models are what the meta-learner was fitted and cross-validated on "
        "(their meta-level out-of-fold predictions give the development estimate); "
        "refit-full models have no out-of-fold predictions, hence no development estimate"
    )


def _tabular_inputs(inp: RunInputs, cohort: Cohort) -> list[str]:
    wanted = {n for m in inp.members for n in m.spec.get("tabular_names", [])}
    wanted |= set(inp.stack.spec.passthrough)
    missing = sorted(wanted - set(cohort.tabular_names))
    if missing:
        raise StageError(f"tabular inputs {missing} are not columns of the cohort "
                         f"({cohort.tabular_names})")
    return [n for n in cohort.tabular_names if n in wanted]


def user_archs(inp: RunInputs) -> list[str]:
    """The run's own ``module:callable`` architectures and feature sets: the exporter
    trained them."""
    archs = {str(m.spec["arch"]) for m in inp.members
             if not _is_features(m) and ":" in str(m.spec["arch"])}
    return sorted(archs | set(own_feature_sets([m.predictions.meta for m in inp.members
                                                 if _is_features(m)])))


def _is_features(m: MemberSource) -> bool:
    return m.spec.get("kind") == FEATURES


def _run_cohort(inp: RunInputs) -> Cohort:
    """The run's cohort from its own cache (no data folder needed).

    Falls back to :func:`load_cohort` (which resolves the data source) only when the
    run directory has no cache of the fingerprint its predictions were made on.
    """
    from ensembler.data.cache import open_cache

    fp = inp.members[0].predictions.meta.get("cohort_fingerprint")
    cache = inp.run_dir / "cohort" / str(fp)
    if fp and (cache / "info.json").is_file():
        return open_cache(cache)
    from ensembler.data import load_cohort

    return load_cohort(inp.cfg, inp.run_dir / "cohort", progress=False)


def _check_zip_target(path: Path, force: bool) -> None:
    """A zip to be replaced must be a bundle zip of ours (or ``force``)."""
    if path.exists() and not force and not is_bundle(path):
        raise FolderExistsError(f"{path}: exists and is not a bundle zip; refusing to replace "
                                "it (choose another --out, or --force)")


def _rows(cohort: Cohort, ids: np.ndarray, what: str) -> np.ndarray:
    index = {r: i for i, r in enumerate(cohort.record_id.astype(str))}
    missing = [r for r in ids if r not in index]
    if missing:
        raise StageError(f"{what} records {[str(r) for r in missing[:3]]} of the predictions "
                         "are not in the cohort")
    return np.array([index[r] for r in ids], dtype=np.int64)


def _copy_members(inp: RunInputs, mode: str, tmp: Path, fs: float, n_samples: int,
                  n_classes: int) -> list[dict[str, Any]]:
    out = []
    for m in inp.members:
        if _is_features(m):
            out.append(feature_member_entry(m.name, m.predictions.meta, m.fold_dirs,
                                            m.n_params, tmp, n_classes))
            continue
        spec = spec_from_description(m.spec)
        win, stride = window_lengths(spec, fs, n_samples)
        dirs = [(d.name, d) for d in m.fold_dirs] if mode == "fold-average" \
            else [("full", m.full_dir)]
        models = []
        for label, src in dirs:
            assert src is not None  # checked by choose_member_mode
            dest = tmp / "members" / m.name / label
            dest.mkdir(parents=True)
            shutil.copyfile(src / "weights.safetensors", dest / "weights.safetensors")
            shutil.copyfile(src / "state.json", dest / "state.json")
            rel = f"members/{m.name}/{label}"
            models.append({"label": label, "weights": f"{rel}/weights.safetensors",
                           "state": f"{rel}/state.json",
                           "state_fitted_on": "the fold's training part" if label != "full"
                           else "all development records"})
        out.append({"name": m.name, "arch": m.spec["arch"], "params": m.spec.get("params", {}),
                    "fusion": m.spec.get("fusion", "none"),
                    "tabular_names": m.spec.get("tabular_names", []),
                    "spec": m.spec, "window": win, "stride": stride,
                    "aggregate": spec.training.eval_aggregate, "n_params": m.n_params,
                    "models": models})
    return out


def _provenance(inp: RunInputs, mode_reason: str) -> dict[str, str]:
    op = inp.operating or {}
    return {
        "member set, stack configuration and meta-learner hyper-parameters":
            inp.selected.get("chosen_on", "the run's stacking stage on development OOF"),
        "stack shipped": f"{inp.stack_name} (export.stack / --stack, else stack/selected.json)",
        "operating thresholds": op.get("chosen_on", "the stack's meta-level OOF predictions")
        + f" ({op.get('method', 'youden')})",
        "calibration": f"{inp.stack.calibration_} chosen by cross-validated log-loss on the "
        "stack's meta-level out-of-fold predictions (development data)",
        "member mode": mode_reason,
        "test set": "not used for any choice; test metrics are reported as measured once",
        **inp.provenance_extra,
    }


def _thresholds(inp: RunInputs, y_dev: np.ndarray) -> tuple[list[float | None], dict[str, Any]]:
    """The stack stage's operating.json, else the same rule on the stack's meta-level OOF."""
    if inp.operating is not None:
        return list(inp.operating["thresholds"]), inp.operating
    from ensembler.evaluation import choose_threshold

    rep = inp.cfg.report
    thr = choose_threshold(y_dev, inp.stack.oof_, method=rep.threshold,
                           target=rep.target_sensitivity)
    return [float(v) if np.isfinite(v) else None for v in thr], {
        "method": rep.threshold, "target_sensitivity": rep.target_sensitivity,
        "chosen_on": "the stack's own meta-level out-of-fold predictions on development data "
                     "(computed at export: the run has no operating.json)"}


def export_bundle(
    target: str | Path,
    out: str | Path | None = None,
    *,
    stack: str | None = None,
    members: str | None = None,
    onnx: bool | None = None,
    zip: bool | None = None,
    cohort: Cohort | None = None,
    check_records: int = 256,
    latency_repeats: int | None = None,
    force: bool = False,
    parity: bool | None = None,
) -> ExportResult:
    """Freeze a run's stack into a bundle folder (and optionally a zip next to it).

    Parameters
    ----------
    target : run directory or run config
    out : bundle folder (default ``<run>/bundle``)
    stack, members, onnx, zip : override ``export.*`` of the run config
    cohort : the run's cohort (default: opened from the run's own cache; the raw data
        folder is not needed)
    check_records : test records used for the parity and ONNX checks (all if fewer)
    latency_repeats : repeats of the batch-1 latency measurement (default report.latency_repeats)
    force : replace ``out`` (and its zip) even when it is not a bundle
    parity : the raw-record parity check: None runs it when the test records' WFDB files
        are reachable, True requires it, False skips it (the manifest says which)

    Raises
    ------
    StageError
        Missing stack, member folders or predictions; parity failure.
    FolderExistsError
        ``out`` (or ``out.zip``) exists, is not empty and is not a bundle (without ``force``).
    """
    inp = read_run(target, stack)
    cfg = inp.cfg
    mode, mode_reason = choose_member_mode(members or cfg.export.members, inp)
    use_onnx = cfg.export.onnx if onnx is None else onnx
    use_zip = cfg.export.zip if zip is None else zip
    target_dir = Path(out) if out else inp.run_dir / "bundle"
    check_target(target_dir, is_bundle, force)  # before any work: never a user's folder
    if use_zip:
        _check_zip_target(target_dir.with_suffix(".zip"), force)
    if cohort is None:
        cohort = _run_cohort(inp)
    first = inp.members[0].predictions
    test_rows = _rows(cohort, first.test_record_id, "test")
    dev_rows = _rows(cohort, first.dev_record_id, "development")
    prep = cfg.data.preprocessing
    n_samples = int(cohort.signals.shape[-1])
    tab_names = _tabular_inputs(inp, cohort)
    tab_all = cohort.tabular[:, [cohort.tabular_names.index(n) for n in tab_names]] \
        if tab_names else None
    stack_tab = None
    if inp.stack.spec.passthrough:
        stack_tab = cohort.tabular[:, [cohort.tabular_names.index(n)
                                       for n in inp.stack.tabular_names]].astype(np.float64)
    thresholds, operating = _thresholds(inp, cohort.labels[dev_rows])
    y_test = cohort.labels[test_rows]
    mode_auc: dict[str, float | None] = {}
    mode_pred: dict[str, np.ndarray] = {}
    for md in MEMBER_MODES:
        if md == "refit-full" and not inp.has_refit:
            continue
        p = pipeline_test_predictions(inp, None if stack_tab is None else stack_tab[test_rows],
                                      md)
        mode_pred[md] = p
        mode_auc[md] = roc_auc(y_test, p).macro if len(test_rows) else None
    headline = _headline(inp) if mode == "fold-average" else refit_full_headline(
        inp, y_test, cohort.patient_id[test_rows], mode_pred[mode], thresholds,
        cfg.report.n_bootstrap, cfg.seed)
    own_archs = user_archs(inp)
    with atomic_dir(target_dir, is_bundle, force=force) as tmp:
        member_entries = _copy_members(inp, mode, tmp, prep.fs, n_samples,
                                       len(cohort.class_names))
        (tmp / "stack").mkdir()
        for f in sorted(inp.stack_dir.iterdir()):
            if f.is_file() and f.suffix in (".json", ".txt"):
                shutil.copyfile(f, tmp / "stack" / f.name)
        check = test_rows[:check_records] if len(test_rows) else dev_rows[:check_records]
        x_check = np.asarray(cohort.signals[check], np.float32)
        t_check = None if tab_all is None else np.asarray(tab_all[check], np.float32)
        onnx_info: dict[str, Any] = {"enabled": False}
        if use_onnx:
            onnx_info = export_members_onnx(member_entries, tmp, x_check, t_check, tab_names,
                                     len(cohort.class_names), own_archs)
        manifest: dict[str, Any] = {
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": _versions(use_onnx, any(map(_is_features, inp.members))),
            "run": {"name": cfg.name, "seed": cfg.seed, "run_dir": str(inp.run_dir)},
            "intended_use": cfg.export.intended_use,
            "task": {"type": "binary" if cohort.n_classes == 1 else "multilabel",
                     "class_names": list(cohort.class_names),
                     "output": "calibrated probability per class; decision = p >= threshold"},
            "input": {
                "lead_names": list(cohort.lead_names), "fs": prep.fs, "n_samples": n_samples,
                "duration_s": prep.duration_s,
                "preprocessing": prep.model_dump(mode="json", exclude={"n_jobs"}),
                "windowing": {m["name"]: {"window": m["window"], "stride": m["stride"],
                                          "aggregate": m["aggregate"]} for m in member_entries},
                "tabular": {
                    "names": tab_names,
                    "encoding": {n: "numeric as in the training data; blank = missing (NaN), "
                                 "standardised with each fold's fitted mean/std; fused models "
                                 "add a missing-indicator" for n in tab_names},
                    # fraction missing on development rows / each fold's training part
                    "missing": tabular_missingness(
                        None if tab_all is None else tab_all[dev_rows], tab_names, first.fold),
                    "stack_imputer": development_means(
                        None if stack_tab is None else stack_tab[dev_rows],
                        inp.stack.tabular_names if stack_tab is not None else []),
                },
            },
            "members": {"mode": mode, "available_modes": list(mode_auc), "list": member_entries},
            "stack": {"name": inp.stack_name, "dir": "stack", "spec": inp.stack.spec.to_dict(),
                      "label": inp.stack.spec.label(), "calibration": inp.stack.calibration_,
                      "calibration_scores": inp.stack.calibration_scores_,
                      "development_estimate": development_estimate(inp), "tabular_names":
                      inp.stack.tabular_names},
            "operating": {"thresholds": thresholds, **{k: v for k, v in operating.items()
                                                       if k != "thresholds"}},
            "metrics": headline,
            "member_mode_test_auc": {"values": mode_auc, "note": "information only; the mode "
                                     "was chosen on development data"},
            "data": _data_summary(cohort, dev_rows, test_rows, cfg, first.fold),
            "fingerprints": {"cohort": first.meta.get("cohort_fingerprint", cohort.fingerprint),
                             "split": inp.split_fingerprint or first.meta.get("split_fingerprint")},
            "provenance": _provenance(inp, mode_reason),
            "subgroup_columns": list(dict.fromkeys(
                [*cfg.report.subgroups, *map(str, cohort.subgroups.columns)])),
            "onnx": onnx_info,
            "conformal": conformal_entry(
                inp.stack.oof_, cohort.labels[dev_rows], cohort.patient_id[dev_rows],
                list(cohort.class_names), cfg.export.conformal_alpha,
                cfg.export.conformal_margin, mode),
        }
        seal(tmp, manifest)
        bundle = load_bundle(tmp, allow_arch=own_archs)
        ref = reference(inp, stack_tab, test_rows, mode)[: len(check)]
        ids = [str(r) for r in cohort.record_id[check]]
        manifest["parity"] = {
            **cache_parity(bundle, ref, x_check, t_check, mode),
            "raw_records": raw_parity(bundle, ref, ids, record_paths(cohort, check), t_check,
                                      parity)}
        require_ok(manifest["parity"]["raw_records"])
        manifest["latency_ms"] = _latency(bundle, x_check, t_check,
                                          latency_repeats or min(cfg.report.latency_repeats, 10))
        if use_onnx:
            ob = load_bundle(tmp, backend="onnx", allow_arch=own_archs)
            manifest["onnx"]["ensemble_max_abs_diff"] = float(np.max(np.abs(
                ob.predict_proba(x_check, t_check, missing="as-trained")
                - bundle.predict_proba(x_check, t_check, missing="as-trained"))))
        (tmp / "MODEL_CARD.md").write_text(model_card(json_clean(manifest)))
        sealed = seal(tmp, manifest)
    zip_path = None
    if use_zip:
        zip_path = zip_bundle(target_dir, target_dir.with_suffix(".zip"))
        read_verified(zip_path)
    return ExportResult(path=target_dir, zip_path=zip_path, manifest=sealed)


def _latency(bundle: Bundle, x: np.ndarray, t: np.ndarray | None, repeats: int
             ) -> dict[str, Any]:
    import torch

    stats = measure_latency(lambda bs: bundle.predict_proba(
        x[:bs], None if t is None else t[:bs], missing="as-trained"),
                            batch_sizes=(1,), repeats=max(1, repeats), warmup=1)
    return {"batch_1": stats[1].as_dict(), "threads": torch.get_num_threads(),
            "device": "cpu", "note": "measured at export on the exporting machine"}


def _headline(inp: RunInputs) -> dict[str, Any]:
    if inp.metrics is None:
        return {"status": "not evaluated", "reason": "no report/metrics.json in the run"}
    rows = {r.get("name"): r for r in inp.metrics.get("leaderboard", [])}
    row = rows.get(inp.stack_name)
    base = rows.get(inp.metrics.get("baseline"))
    keep = ("test_auc", "test_auc_per_class", "operating_point", "calibration",
            "dev_oof_auc", "latency_ms", "n_params", "delta_vs_baseline")
    return {"status": "evaluated" if row else "stack not in the report", "mode": "fold-average",
            "source": "the run's report (report/metrics.json): the fold models' stacked test "
                      "predictions",
            "thresholds_from": "the stack's own meta-level out-of-fold predictions",
            "stack": {k: row.get(k) for k in keep} if row else None,
            "baseline": {"name": inp.metrics.get("baseline"),
                         **{k: base.get(k) for k in keep}} if base else None,
            "leaderboard": [{"name": r.get("name"), "kind": r.get("kind"),
                             "test_auc": r.get("test_auc"), "dev_oof_auc": r.get("dev_oof_auc"),
                             "dev_oof_auc_label": r.get("dev_oof_auc_label")}
                            for r in inp.metrics.get("leaderboard", [])],
            "subgroups": inp.metrics.get("subgroups"),
            "n_test": inp.metrics.get("n_test"),
            "n_test_patients": inp.metrics.get("n_test_patients")}


def _data_summary(cohort: Cohort, dev: np.ndarray, test: np.ndarray, cfg: Any,
                  first_fold: np.ndarray) -> dict[str, Any]:
    def part(rows: np.ndarray) -> dict[str, Any]:
        y = cohort.labels[rows]
        return {"records": len(rows), "patients": len(np.unique(cohort.patient_id[rows])),
                "positives": {c: int(y[:, j].sum()) for j, c in enumerate(cohort.class_names)}}

    return {"source": cfg.data.source, "development": part(dev), "test": part(test),
            "split": cfg.split.model_dump(mode="json"),
            "n_folds": int(np.max(np.asarray(first_fold)) + 1) if len(first_fold) else 0}
