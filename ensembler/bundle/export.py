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

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ensembler.bundle.bundle import Bundle, load_bundle
from ensembler.bundle.card import model_card
from ensembler.bundle.estimates import refit_full_headline
from ensembler.bundle.feature_io import KIND as FEATURES
from ensembler.bundle.feature_io import feature_member_entry, own_feature_sets
from ensembler.bundle.integrity import is_bundle, json_clean, read_verified, seal, zip_bundle
from ensembler.bundle.manifest import ExportPlan, build_manifest, headline_from_report
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
    RunInputs,
    pipeline_test_predictions,
    read_run,
)
from ensembler.data.cohort import Cohort
from ensembler.errors import ConfigError, StageError
from ensembler.evaluation import measure_latency, roc_auc
from ensembler.report.mode_evidence import CSV as EVIDENCE_CSV
from ensembler.report.mode_evidence import current_evidence
from ensembler.training.loop import window_lengths
from ensembler.utils.atomic import FolderExistsError, atomic_dir, check_target


@dataclass
class ExportResult:
    path: Path
    zip_path: Path | None
    manifest: dict[str, Any]


AUTO_REASON = ("auto: fold-average — the fold models are what the meta-learner was fitted and "
               "cross-validated on (their meta-level out-of-fold predictions give the "
               "development estimate); refit-full models have no out-of-fold predictions, "
               "hence no development estimate")
REFIT_THRESHOLDS = ("its thresholds and calibrator are the fold models' stack's, chosen on "
                    "that stack's meta-level out-of-fold predictions on development data "
                    "(refit-full models have none)")


def choose_member_mode(requested: str, inp: RunInputs) -> tuple[str, str]:
    """(mode, reason). ``auto`` never looks at test data.

    Fold-average is what the meta-learner was fitted and cross-validated on: its stacked
    meta-level OOF AUC is an honest development estimate. Refit-full models have no
    out-of-fold predictions, so no development estimate exists for them; ``auto``
    therefore ships fold-average, and refit-full only on explicit request. The reason
    cites the run's member-mode evidence (``efficiency/member_mode_evidence.csv``: OOF AUC
    vs share of training patients, development data only) when there is any.
    """
    if requested not in ("auto", *MEMBER_MODES):
        raise ConfigError(f"export.members: {requested!r}; expected auto or one of {MEMBER_MODES}")
    if requested == "refit-full":
        if not inp.has_refit:
            lacking = [m.name for m in inp.members if m.full_dir is None]
            raise StageError(f"--members refit-full: no refit-full model for {lacking}; set "
                             "training.refit_full: true and retrain, or use fold-average")
        return "refit-full", _cite_evidence(
            "requested explicitly (export.members / --members refit-full); "
            + REFIT_THRESHOLDS, inp)
    if not inp.has_folds:
        if requested == "fold-average":
            raise StageError("--members fold-average: the student has no fold models "
                             "(distill.fold_students: false); use refit-full")
        return "refit-full", ("the only model is one network on all development data (a "
                              "single-only distilled student has no fold models)")
    if requested == "fold-average":
        return "fold-average", _cite_evidence(
            "requested explicitly (export.members / --members fold-average)", inp)
    return "fold-average", _cite_evidence(AUTO_REASON, inp)


def _cite_evidence(reason: str, inp: RunInputs) -> str:
    """``reason`` and what the run's member-mode evidence says (or that there is none)."""
    ev = current_evidence(inp.run_dir)
    if ev is None:
        return (f"{reason}. Member-mode evidence: none current (export.mode_evidence; "
                "`ensembler evidence` measures the gain from more training patients on "
                "development data)")
    return f"{reason}. Member-mode evidence ({EVIDENCE_CSV}): {ev.summary()}"


def _tabular_inputs(inp: RunInputs, cohort: Cohort) -> list[str]:
    wanted = {n for m in inp.members for n in m.tabular_names}
    wanted |= set(inp.stack.spec.passthrough)
    missing = sorted(wanted - set(cohort.tabular_names))
    if missing:
        raise StageError(f"tabular inputs {missing} are not columns of the cohort "
                         f"({cohort.tabular_names})")
    return [n for n in cohort.tabular_names if n in wanted]


def user_archs(inp: RunInputs) -> list[str]:
    """The run's own ``module:callable`` architectures and feature sets: the exporter
    trained them."""
    archs = {m.spec.arch for m in inp.members if m.spec is not None and ":" in m.spec.arch}
    return sorted(archs | set(own_feature_sets([m.meta for m in inp.members
                                                 if m.kind == FEATURES])))


def _run_cohort(inp: RunInputs) -> Cohort:
    """The run's cohort from its own cache (no data folder needed).

    Falls back to :func:`load_cohort` (which resolves the data source) only when the
    run directory has no cache of the fingerprint its predictions were made on.
    """
    from ensembler.data.cache import open_cache

    fp = inp.members[0].meta.cohort_fingerprint
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
        if m.spec is None:
            out.append(feature_member_entry(m.name, m.meta, m.fold_dirs,
                                            m.n_params, tmp, n_classes))
            continue
        spec = m.spec
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
        out.append({"name": m.name, "arch": spec.arch, "params": spec.params,
                    "fusion": spec.fusion, "tabular_names": list(spec.tabular_names),
                    "spec": spec.describe(), "window": win, "stride": stride,
                    "aggregate": spec.training.eval_aggregate, "n_params": m.n_params,
                    "models": models})
    return out


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
    use_onnx = cfg.export.onnx if onnx is None else onnx
    use_zip = cfg.export.zip if zip is None else zip
    target_dir = Path(out) if out else inp.run_dir / "bundle"
    check_target(target_dir, is_bundle, force)  # before any work: never a user's folder
    if use_zip:
        _check_zip_target(target_dir.with_suffix(".zip"), force)
    plan = plan_export(inp, members or cfg.export.members,
                       _run_cohort(inp) if cohort is None else cohort, check_records)
    with atomic_dir(target_dir, is_bundle, force=force) as tmp:
        sealed = _write_bundle(tmp, inp, plan, use_onnx, parity,
                               latency_repeats or min(cfg.report.latency_repeats, 10))
    zip_path = None
    if use_zip:
        zip_path = zip_bundle(target_dir, target_dir.with_suffix(".zip"))
        read_verified(zip_path)
    return ExportResult(path=target_dir, zip_path=zip_path, manifest=sealed)


def _write_bundle(tmp: Path, inp: RunInputs, plan: ExportPlan, use_onnx: bool,
                  parity: bool | None, latency_repeats: int) -> dict[str, Any]:
    """Fill the bundle folder ``tmp``: members, stack, ONNX, a sealed manifest, then the
    parity/ONNX/latency checks and the model card, sealed again; the final manifest."""
    member_entries = _copy_members(inp, plan.mode, tmp, inp.cfg.data.preprocessing.fs,
                                   int(plan.cohort.signals.shape[-1]),
                                   len(plan.cohort.class_names))
    _copy_stack(inp, tmp)
    onnx_info: dict[str, Any] = {"enabled": False}
    if use_onnx:
        onnx_info = export_members_onnx(member_entries, tmp, plan.x_check, plan.t_check,
                                        plan.tab_names, len(plan.cohort.class_names),
                                        plan.own_archs)
    manifest = build_manifest(plan, member_entries, onnx_info, use_onnx)
    seal(tmp, manifest)
    checks = _checks(tmp, plan, parity, use_onnx, latency_repeats)
    if "onnx_ensemble_max_abs_diff" in checks:
        manifest["onnx"]["ensemble_max_abs_diff"] = checks.pop("onnx_ensemble_max_abs_diff")
    manifest.update(checks)
    (tmp / "MODEL_CARD.md").write_text(model_card(json_clean(manifest)))
    return seal(tmp, manifest)


def plan_export(inp: RunInputs, requested_mode: str, cohort: Cohort, check_records: int
                ) -> ExportPlan:
    """Member mode, rows, tabular inputs, thresholds and headline metrics of an export."""
    cfg = inp.cfg
    mode, mode_reason = choose_member_mode(requested_mode, inp)
    first = inp.members[0].predictions
    test_rows = _rows(cohort, first.test_record_id, "test")
    dev_rows = _rows(cohort, first.dev_record_id, "development")
    tab_names = _tabular_inputs(inp, cohort)
    tab_all = cohort.tabular[:, [cohort.tabular_names.index(n) for n in tab_names]] \
        if tab_names else None
    stack_tab = None
    if inp.stack.spec.passthrough:
        stack_tab = cohort.tabular[:, [cohort.tabular_names.index(n)
                                       for n in inp.stack.tabular_names]].astype(np.float64)
    thresholds, operating = _thresholds(inp, cohort.labels[dev_rows])
    y_test = cohort.labels[test_rows]
    mode_pred = {md: pipeline_test_predictions(
        inp, None if stack_tab is None else stack_tab[test_rows], md)
        for md in MEMBER_MODES
        if (md != "refit-full" or inp.has_refit) and (md != "fold-average" or inp.has_folds)}
    mode_auc = {md: roc_auc(y_test, p).macro if len(test_rows) else None
                for md, p in mode_pred.items()}
    headline = headline_from_report(inp) if mode == "fold-average" else refit_full_headline(
        inp, y_test, cohort.patient_id[test_rows], mode_pred[mode], thresholds,
        cfg.report.n_bootstrap, cfg.seed)
    check = test_rows[:check_records] if len(test_rows) else dev_rows[:check_records]
    return ExportPlan(inp=inp, cohort=cohort, mode=mode, mode_reason=mode_reason,
                      test_rows=test_rows, dev_rows=dev_rows, check=check, tab_names=tab_names,
                      tab_all=tab_all, stack_tab=stack_tab, thresholds=thresholds,
                      operating=operating, mode_auc=mode_auc, headline=headline,
                      own_archs=user_archs(inp))


def _copy_stack(inp: RunInputs, tmp: Path) -> None:
    (tmp / "stack").mkdir()
    for f in sorted(inp.stack_dir.iterdir()):
        if f.is_file() and f.suffix in (".json", ".txt"):
            shutil.copyfile(f, tmp / "stack" / f.name)


def _checks(tmp: Path, plan: ExportPlan, parity: bool | None, use_onnx: bool,
            latency_repeats: int) -> dict[str, Any]:
    """Load the sealed bundle as a receiver would: parity (cached and raw records), batch-1
    latency, and the ONNX backend against torch."""
    x, t, check = plan.x_check, plan.t_check, plan.check
    bundle = load_bundle(tmp, allow_arch=plan.own_archs)
    ref = reference(plan.inp, plan.stack_tab, plan.test_rows, plan.mode)[: len(check)]
    ids = [str(r) for r in plan.cohort.record_id[check]]
    raw = raw_parity(bundle, ref, ids, record_paths(plan.cohort, check), t, parity)
    require_ok(raw)
    out: dict[str, Any] = {
        "parity": {**cache_parity(bundle, ref, x, t, plan.mode), "raw_records": raw},
        "latency_ms": _latency(bundle, x, t, latency_repeats)}
    if use_onnx:
        ob = load_bundle(tmp, backend="onnx", allow_arch=plan.own_archs)
        out["onnx_ensemble_max_abs_diff"] = float(np.max(np.abs(
            ob.predict_proba(x, t, missing="as-trained")
            - bundle.predict_proba(x, t, missing="as-trained"))))
    return out


def _latency(bundle: Bundle, x: np.ndarray, t: np.ndarray | None, repeats: int
             ) -> dict[str, Any]:
    import torch

    stats = measure_latency(lambda bs: bundle.predict_proba(
        x[:bs], None if t is None else t[:bs], missing="as-trained"),
                            batch_sizes=(1,), repeats=max(1, repeats), warmup=1)
    return {"batch_1": stats[1].as_dict(), "threads": torch.get_num_threads(),
            "device": "cpu", "note": "measured at export on the exporting machine"}
