"""Assemble the machine-readable comparison (the content of ``metrics.json``).

Every row is scored on the same patient-bootstrap resamples of the test set,
so all Δ and p values are paired. Nothing here chooses anything from test data:
thresholds come from each row's development out-of-fold predictions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ensembler.config import ReportConfig
from ensembler.evaluation import (
    average_precision,
    brier,
    calibration_slope_intercept,
    choose_threshold,
    delong_test,
    expected_calibration_error,
    holm,
    operating_point,
    paired_delta_from_samples,
    patient_weights,
    percentile_ci,
    roc_auc,
    subgroup_auc,
    weighted_auc,
)
from ensembler.evaluation._checks import as_labels, evaluable_classes
from ensembler.report.accounting import dropped_counts, dropped_warnings, seed_spread, test_reads
from ensembler.report.distill import distillation_summary
from ensembler.report.inputs import KINDS, ComparisonInput, LeaderboardEntry

__all__ = ["SCHEMA_VERSION", "compute_metrics", "json_ready", "ordered_entries"]

SCHEMA_VERSION = 1
ALPHA = 0.05


def json_ready(obj: Any) -> Any:
    """Numpy scalars/arrays to Python, NaN/inf to None (strict JSON has no NaN)."""
    if isinstance(obj, Mapping):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def ordered_entries(inp: ComparisonInput) -> list[LeaderboardEntry]:
    """Rows by kind (network, fold bag, seed bag, best single, stacks), input order within."""
    return sorted(inp.entries, key=lambda e: KINDS.index(e.kind))


def _ci(point: float, samples: NDArray[np.float64]) -> dict[str, float]:
    lo, hi = percentile_ci(samples, ALPHA)
    return {"point": float(point), "lo": lo, "hi": hi}


def _per_class(names: list[str], values: NDArray[np.float64]) -> dict[str, float]:
    return {n: float(v) for n, v in zip(names, values, strict=True)}


def _entry_metrics(
    e: LeaderboardEntry,
    inp: ComparisonInput,
    cfg: ReportConfig,
    w: NDArray[np.float64],
    ok: NDArray[np.bool_],
) -> tuple[dict[str, Any], NDArray[np.float64]]:
    """One leaderboard row and its (B,) macro-AUC resample values."""
    y = as_labels(inp.y_test, "y_test")
    names = inp.class_names
    p = np.asarray(e.test_proba, dtype=np.float64)
    auc = roc_auc(y, p)
    boot = weighted_auc(y, p, w)  # (B, C)
    macro_samples = boot[:, ok].mean(axis=1)
    per_class_ci = {
        names[c]: _ci(auc.per_class[c], boot[:, c]) if ok[c] else None for c in range(len(names))
    }
    ap = average_precision(y, p)
    cal = calibration_slope_intercept(y, p)
    row: dict[str, Any] = {
        "name": e.name,
        "kind": e.kind,
        "members": list(e.members),
        "n_members": len(e.members),
        "n_params": e.n_params,
        "latency_ms": (
            {str(k): v.as_dict() for k, v in sorted(e.latency_ms.items())} if e.latency_ms else None
        ),
        "test_auc": _ci(auc.macro, macro_samples),
        "test_auc_per_class": per_class_ci,
        "test_ap": {"macro": ap.macro, "per_class": _per_class(names, ap.per_class)},
        "calibration": {
            "brier": _brier_ece(brier(y, p), names),
            "ece": _brier_ece(expected_calibration_error(y, p, cfg.ece_bins), names),
            "slope": _per_class(names, cal.slope),
            "intercept": _per_class(names, cal.intercept),
        },
        "seed_spread": seed_spread(e.seed_spread),
        "notes": e.notes,
        "dev_oof_auc": None,
        "dev_oof_auc_label": None,
        "dev_estimate": dict(e.dev_estimate) if e.dev_estimate else None,
        "threshold": None,
        "operating_point": None,
    }
    if e.dev_oof_proba is not None:
        yd = as_labels(inp.y_dev, "y_dev")
        row["dev_oof_auc"] = roc_auc(yd, e.dev_oof_proba).macro
        row["dev_oof_auc_label"] = e.dev_auc_label or (
            "selected on (optimistic)" if e.name in inp.tuned_members else "out-of-fold")
        thr = choose_threshold(yd, e.dev_oof_proba, cfg.threshold, cfg.target_sensitivity)
        row["threshold"] = _per_class(names, thr)
        row["operating_point"] = operating_point(y, p, thr, inp.groups_test, weights=w).as_dict()
    row["bootstrap_dropped"] = dropped_counts(names, boot, macro_samples, ok,
                                              row["operating_point"])
    return row, macro_samples


def _brier_ece(scores: Any, names: list[str]) -> dict[str, Any]:
    return {"macro": scores.macro, "per_class": _per_class(names, scores.per_class)}


def _primary(inp: ComparisonInput, rows: dict[str, Any], samples: dict[str, Any]) -> Any:
    if inp.primary is None:
        return None
    a, b = inp.primary
    y = as_labels(inp.y_test, "y_test")
    pa = {e.name: e for e in inp.entries}[a].test_proba
    pb = {e.name: e for e in inp.entries}[b].test_proba
    d = paired_delta_from_samples(
        rows[a]["test_auc"]["point"], rows[b]["test_auc"]["point"], samples[a], samples[b], ALPHA
    )
    delong: list[dict[str, Any]] = []
    for c, cname in enumerate(inp.class_names):
        if y[:, c].min() == y[:, c].max():
            delong.append({"class": cname, "skipped": "no positives or no negatives in test"})
            continue
        t = delong_test(y[:, c], pa[:, c], pb[:, c])
        delong.append(
            {"class": cname, "auc_a": t.auc_a, "auc_b": t.auc_b, "z": t.z, "p_value": t.p_value}
        )
    adj = holm([row.get("p_value", float("nan")) for row in delong])
    for row, q in zip(delong, adj, strict=True):
        if "p_value" in row:
            row["p_holm"] = float(q)
    return {
        "a": a,
        "b": b,
        "metric": "macro ROC AUC on the test set",
        "statistic": "paired patient-cluster bootstrap of the AUC difference a - b",
        "delta": d.delta,
        "lo": d.lo,
        "hi": d.hi,
        "p_value": d.p_value,
        "secondary": "per-class DeLong test (records treated as independent), Holm-corrected",
        "delong": delong,
        "seed_spread": seed_spread(inp.primary_seed_deltas),
    }


def _best_single_check(inp: ComparisonInput, rows: dict[str, Any]) -> dict[str, Any]:
    """Is the baseline the best single-architecture row by development OOF AUC?"""
    cands = {
        n: r["dev_oof_auc"]
        for n, r in rows.items()
        if r["kind"] == "fold_bag" and r["dev_oof_auc"] is not None
    }
    base = rows[inp.baseline]["dev_oof_auc"]
    best = max(cands, key=lambda n: cands[n]) if cands else None
    members = rows[inp.baseline].get("members") or []
    if len(members) == 1 and members[0] in cands:
        # the baseline wraps one member (possibly recalibrated, which can move its AUC a
        # little): consistent when that member is the best fold bag on development data
        consistent = members[0] == best
    else:
        consistent = bool(base is None or not cands or base >= max(cands.values()) - 1e-12)
    return {"dev_oof_auc": base, "best_fold_bag": best, "consistent": consistent}


def compute_metrics(inp: ComparisonInput, cfg: ReportConfig, seed: int) -> dict[str, Any]:
    """Score every row on the test set; return the ``metrics.json`` content (not JSON-cleaned)."""
    inp.validate()
    y = as_labels(inp.y_test, "y_test")
    ok = evaluable_classes(y)
    w = patient_weights(inp.groups_test, cfg.n_bootstrap, seed)
    rows: dict[str, Any] = {}
    samples: dict[str, NDArray[np.float64]] = {}
    for e in ordered_entries(inp):
        rows[e.name], samples[e.name] = _entry_metrics(e, inp, cfg, w, ok)
    for name, row in rows.items():
        row["delta_vs_baseline"] = (
            None
            if name == inp.baseline
            else paired_delta_from_samples(
                row["test_auc"]["point"],
                rows[inp.baseline]["test_auc"]["point"],
                samples[name],
                samples[inp.baseline],
                ALPHA,
            )._asdict()
        )
    n_bad = int(np.count_nonzero(~np.isfinite(samples[inp.baseline])))
    subgroups = _subgroups(inp, cfg, seed)
    return {
        "schema_version": SCHEMA_VERSION,
        "run": inp.run_name,
        "class_names": list(inp.class_names),
        "classes_skipped_in_macro": [inp.class_names[c] for c in np.flatnonzero(~ok)],
        "n_test": int(y.shape[0]),
        "n_test_patients": int(np.unique(np.asarray(inp.groups_test)).size),
        "n_dev": int(np.asarray(inp.y_dev).shape[0]),
        "n_dev_patients": int(np.unique(np.asarray(inp.groups_dev)).size),
        "test_prevalence": _per_class(inp.class_names, y.mean(axis=0)),
        "settings": {
            "n_bootstrap": cfg.n_bootstrap,
            "bootstrap_unit": "patient",
            "resamples_without_both_labels": n_bad,
            "seed": seed,
            "alpha": ALPHA,
            "threshold_method": cfg.threshold,
            "target_sensitivity": cfg.target_sensitivity
            if cfg.threshold == "sensitivity"
            else None,
            "ece_bins": cfg.ece_bins,
            "min_subgroup_n": cfg.min_subgroup_n,
        },
        "baseline": inp.baseline,
        "best_single_check": _best_single_check(inp, rows),
        "distillation": distillation_summary(rows, samples, inp.distill_teacher, inp.baseline,
                                             inp.distill_twins),
        "primary": _primary(inp, rows, samples),
        "leaderboard": list(rows.values()),
        "subgroups": subgroups,
        "bootstrap_warnings": dropped_warnings(list(rows.values()), subgroups, cfg.n_bootstrap),
        "oracle_auc": inp.oracle_auc,
        "stack_study": dict(inp.stack_study) if inp.stack_study else None,
        "diversity": inp.diversity.to_dict() if inp.diversity is not None else None,
        "fairness_note": inp.fairness_note or None,
        "data_efficiency": (
            inp.data_efficiency[["arch", "fraction", "test_auc"]].to_dict(orient="records")
            if inp.data_efficiency is not None
            else None
        ),
        "provenance": provenance(inp, cfg),
        "test_set_reads": test_reads(inp.test_reads),
        "feature_importance": [fi.to_dict() for fi in inp.feature_importance],
    }


def provenance(inp: ComparisonInput, cfg: ReportConfig) -> dict[str, str]:
    """Which data each choice used; the caller's entries override the defaults."""
    thr = (
        "Youden's J"
        if cfg.threshold == "youden"
        else f"highest threshold reaching sensitivity {cfg.target_sensitivity:g}"
    )
    out = {
        "best single model": "highest development out-of-fold macro AUC",
        "stack configuration, members and meta-learner hyper-parameters": (
            "joint Optuna study on development out-of-fold predictions (meta-level CV "
            "over the same patient folds)"
        ),
        "operating threshold": (
            f"{thr} on development out-of-fold predictions (meta-level OOF for stacks)"
        ),
        "calibration and threshold metrics of stacks": "meta-level out-of-fold predictions",
        "test set": "read after every choice above was fixed; no read informed a choice "
        "(each stage that read test labels is listed under test_set_reads)",
    }
    out.update(inp.provenance)
    return out


def _subgroups(inp: ComparisonInput, cfg: ReportConfig, seed: int) -> dict[str, Any]:
    """Subgroup AUCs of the primary pair (or the baseline) per configured column."""
    who = list(dict.fromkeys(inp.primary or (inp.baseline,)))
    entries = {e.name: e for e in inp.entries}
    out: dict[str, Any] = {"models": who, "columns": {}, "unavailable": []}
    frame = inp.subgroups_test
    for col in cfg.subgroups:
        if frame is None or col not in frame.columns:
            out["unavailable"].append(col)
            continue
        out["columns"][col] = {
            name: [
                r.as_dict()
                for r in subgroup_auc(
                    inp.y_test,
                    entries[name].test_proba,
                    inp.groups_test,
                    frame[col].to_numpy(),
                    cfg.min_subgroup_n,
                    cfg.n_bootstrap,
                    seed,
                )
            ]
            for name in who
        }
    return out
