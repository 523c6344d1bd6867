"""Assemble the machine-readable comparison (the content of ``metrics.json``).

Every row is scored on the same patient-bootstrap resamples of the test set,
so all Δ and p values are paired. Nothing here chooses anything from test data:
thresholds come from each row's development out-of-fold predictions.
"""

from __future__ import annotations

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
from ensembler.evaluation.labels import SELECTED_ON
from ensembler.report.accounting import dropped_counts, dropped_warnings, seed_spread, test_reads
from ensembler.report.distill import distillation_summary
from ensembler.report.inputs import KINDS, ComparisonInput, LeaderboardEntry
from ensembler.report.schema import (
    CI,
    BestSingleCheck,
    Calibration,
    DelongRow,
    DeltaCI,
    DevEstimate,
    EfficiencyPoint,
    LatencyRow,
    LeaderboardRow,
    MacroPerClass,
    Metrics,
    OperatingPoints,
    PrimaryComparison,
    Settings,
    SubgroupRow,
    Subgroups,
)
from ensembler.utils.jsonclass import from_json_dict, json_ready

__all__ = ["SCHEMA_VERSION", "compute_metrics", "json_ready", "ordered_entries"]

SCHEMA_VERSION = 1
ALPHA = 0.05


def ordered_entries(inp: ComparisonInput) -> list[LeaderboardEntry]:
    """Rows by kind (network, fold bag, seed bag, best single, stacks), input order within."""
    return sorted(inp.entries, key=lambda e: KINDS.index(e.kind))


def _ci(point: float, samples: NDArray[np.float64]) -> CI:
    lo, hi = percentile_ci(samples, ALPHA)
    return CI(point=float(point), lo=lo, hi=hi)


def _per_class(names: list[str], values: NDArray[np.float64]) -> dict[str, float | None]:
    return {n: float(v) for n, v in zip(names, values, strict=True)}


def _macro_per_class(scores: Any, names: list[str]) -> MacroPerClass:
    return MacroPerClass(macro=scores.macro, per_class=_per_class(names, scores.per_class))


def _calibration(y: NDArray[Any], p: NDArray[np.float64], names: list[str],
                 cfg: ReportConfig) -> Calibration:
    cal = calibration_slope_intercept(y, p)
    return Calibration(
        brier=_macro_per_class(brier(y, p), names),
        ece=_macro_per_class(expected_calibration_error(y, p, cfg.ece_bins), names),
        slope=_per_class(names, cal.slope), intercept=_per_class(names, cal.intercept))


def _dev_part(e: LeaderboardEntry, inp: ComparisonInput, cfg: ReportConfig,
              w: NDArray[np.float64]) -> dict[str, Any]:
    """A row's development AUC (and what it is), thresholds from its development OOF and
    the test operating point at them; all None without development OOF."""
    if e.dev_oof_proba is None:
        return {"dev_oof_auc": None, "dev_oof_auc_label": None, "threshold": None,
                "operating_point": None}
    yd = as_labels(inp.y_dev, "y_dev")
    thr = choose_threshold(yd, e.dev_oof_proba, cfg.threshold, cfg.target_sensitivity)
    op = operating_point(as_labels(inp.y_test, "y_test"), np.asarray(e.test_proba, np.float64),
                         thr, inp.groups_test, weights=w).as_dict()
    return {"dev_oof_auc": roc_auc(yd, e.dev_oof_proba).macro,
            "dev_oof_auc_label": e.dev_auc_label or (
                SELECTED_ON if e.name in inp.tuned_members else "out-of-fold"),
            "threshold": _per_class(inp.class_names, thr),
            "operating_point": from_json_dict(OperatingPoints, op, f"{e.name}.operating_point")}


def _entry_metrics(
    e: LeaderboardEntry,
    inp: ComparisonInput,
    cfg: ReportConfig,
    w: NDArray[np.float64],
    ok: NDArray[np.bool_],
) -> tuple[LeaderboardRow, NDArray[np.float64]]:
    """One leaderboard row and its (B,) macro-AUC resample values."""
    y = as_labels(inp.y_test, "y_test")
    names = inp.class_names
    p = np.asarray(e.test_proba, dtype=np.float64)
    auc = roc_auc(y, p)
    boot = weighted_auc(y, p, w)  # (B, C)
    macro_samples = boot[:, ok].mean(axis=1)
    dev = _dev_part(e, inp, cfg, w)
    row = LeaderboardRow(
        name=e.name, kind=e.kind, members=list(e.members), n_members=len(e.members),
        n_params=e.n_params,
        latency_ms=({str(k): from_json_dict(LatencyRow, v.as_dict(), f"latency_ms.{k}")
                     for k, v in sorted(e.latency_ms.items())} if e.latency_ms else None),
        test_auc=_ci(auc.macro, macro_samples),
        test_auc_per_class={names[c]: _ci(auc.per_class[c], boot[:, c]) if ok[c] else None
                            for c in range(len(names))},
        test_ap=_macro_per_class(average_precision(y, p), names),
        calibration=_calibration(y, p, names, cfg),
        seed_spread=seed_spread(e.seed_spread), notes=e.notes,
        dev_estimate=(from_json_dict(DevEstimate, e.dev_estimate, f"{e.name}.dev_estimate")
                      if e.dev_estimate else None),
        bootstrap_dropped=dropped_counts(names, boot, macro_samples, ok,
                                         dev["operating_point"]),
        **dev)
    return row, macro_samples


def _point(r: LeaderboardRow) -> float:
    return float("nan") if r.test_auc.point is None else r.test_auc.point


def _delong(inp: ComparisonInput, a: str, b: str) -> list[DelongRow]:
    """Per-class DeLong tests of ``a`` vs ``b``, Holm-corrected over the tested classes."""
    y = as_labels(inp.y_test, "y_test")
    by = {e.name: e for e in inp.entries}
    pa, pb = by[a].test_proba, by[b].test_proba
    out: list[DelongRow] = []
    for c, cname in enumerate(inp.class_names):
        if y[:, c].min() == y[:, c].max():
            out.append(DelongRow(class_=cname, skipped="no positives or no negatives in test"))
            continue
        t = delong_test(y[:, c], pa[:, c], pb[:, c])
        out.append(DelongRow(class_=cname, auc_a=t.auc_a, auc_b=t.auc_b, z=t.z,
                             p_value=t.p_value))
    adj = holm([float("nan") if r.p_value is None else r.p_value for r in out])
    for r, q in zip(out, adj, strict=True):
        if r.skipped is None:
            r.p_holm = float(q)
    return out


def _primary(inp: ComparisonInput, rows: dict[str, LeaderboardRow],
             samples: dict[str, NDArray[np.float64]]) -> PrimaryComparison | None:
    if inp.primary is None:
        return None
    a, b = inp.primary
    d = paired_delta_from_samples(_point(rows[a]), _point(rows[b]), samples[a], samples[b],
                                  ALPHA)
    return PrimaryComparison(
        a=a, b=b, metric="macro ROC AUC on the test set",
        statistic="paired patient-cluster bootstrap of the AUC difference a - b",
        delta=d.delta, lo=d.lo, hi=d.hi, p_value=d.p_value,
        secondary="per-class DeLong test (records treated as independent), Holm-corrected",
        delong=_delong(inp, a, b), seed_spread=seed_spread(inp.primary_seed_deltas))


def _best_single_check(inp: ComparisonInput, rows: dict[str, LeaderboardRow]
                       ) -> BestSingleCheck:
    """Is the baseline the best single-architecture row by development OOF AUC?"""
    cands = {n: float(r.dev_oof_auc) for n, r in rows.items()
             if r.kind == "fold_bag" and r.dev_oof_auc is not None}
    base = rows[inp.baseline].dev_oof_auc
    best = max(cands, key=lambda n: cands[n]) if cands else None
    members = rows[inp.baseline].members
    if len(members) == 1 and members[0] in cands:
        # the baseline wraps one member (possibly recalibrated, which can move its AUC a
        # little): consistent when that member is the best fold bag on development data
        consistent = members[0] == best
    else:
        consistent = bool(base is None or not cands or base >= max(cands.values()) - 1e-12)
    return BestSingleCheck(dev_oof_auc=base, best_fold_bag=best, consistent=consistent)


def _settings(cfg: ReportConfig, seed: int, n_bad: int) -> Settings:
    return Settings(
        n_bootstrap=cfg.n_bootstrap, bootstrap_unit="patient",
        resamples_without_both_labels=n_bad, seed=seed, alpha=ALPHA,
        threshold_method=cfg.threshold,
        target_sensitivity=cfg.target_sensitivity if cfg.threshold == "sensitivity" else None,
        ece_bins=cfg.ece_bins, min_subgroup_n=cfg.min_subgroup_n)


def _scored_rows(inp: ComparisonInput, cfg: ReportConfig, w: NDArray[np.float64],
                 ok: NDArray[np.bool_]
                 ) -> tuple[dict[str, LeaderboardRow], dict[str, NDArray[np.float64]]]:
    """Every leaderboard row with its Δ vs the baseline, and the rows' resample values."""
    rows: dict[str, LeaderboardRow] = {}
    samples: dict[str, NDArray[np.float64]] = {}
    for e in ordered_entries(inp):
        rows[e.name], samples[e.name] = _entry_metrics(e, inp, cfg, w, ok)
    base = inp.baseline
    for name, row in rows.items():
        if name != base:
            row.delta_vs_baseline = DeltaCI(**paired_delta_from_samples(
                _point(row), _point(rows[base]), samples[name], samples[base], ALPHA)._asdict())
    return rows, samples


def compute_metrics(inp: ComparisonInput, cfg: ReportConfig, seed: int) -> Metrics:
    """Score every row on the test set; return the ``metrics.json`` content (NaN kept)."""
    inp.validate()
    y = as_labels(inp.y_test, "y_test")
    ok = evaluable_classes(y)
    w = patient_weights(inp.groups_test, cfg.n_bootstrap, seed)
    rows, samples = _scored_rows(inp, cfg, w, ok)
    subgroups = _subgroups(inp, cfg, seed)
    eff = inp.data_efficiency
    return Metrics(
        schema_version=SCHEMA_VERSION, run=inp.run_name, class_names=list(inp.class_names),
        classes_skipped_in_macro=[inp.class_names[c] for c in np.flatnonzero(~ok)],
        n_test=int(y.shape[0]),
        n_test_patients=int(np.unique(np.asarray(inp.groups_test)).size),
        n_dev=int(np.asarray(inp.y_dev).shape[0]),
        n_dev_patients=int(np.unique(np.asarray(inp.groups_dev)).size),
        test_prevalence=_per_class(inp.class_names, y.mean(axis=0)),
        settings=_settings(cfg, seed, int(np.count_nonzero(~np.isfinite(samples[inp.baseline])))),
        baseline=inp.baseline,
        best_single_check=_best_single_check(inp, rows),
        distillation=distillation_summary(rows, samples, inp.distill_teacher, inp.baseline,
                                          inp.distill_twins),
        primary=_primary(inp, rows, samples),
        leaderboard=list(rows.values()),
        subgroups=subgroups,
        bootstrap_warnings=dropped_warnings(list(rows.values()), subgroups, cfg.n_bootstrap),
        oracle_auc=inp.oracle_auc,
        stack_study=dict(inp.stack_study) if inp.stack_study else None,
        fairness_note=inp.fairness_note or None,
        data_efficiency=None if eff is None else [
            from_json_dict(EfficiencyPoint, r, "data_efficiency")
            for r in eff[["arch", "fraction", "test_auc"]].to_dict(orient="records")],
        provenance=provenance(inp, cfg),
        test_set_reads=test_reads(inp.test_reads, inp.test_ledger),
        feature_importance=list(inp.feature_importance),
        diversity=inp.diversity,
    )


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


def _subgroups(inp: ComparisonInput, cfg: ReportConfig, seed: int) -> Subgroups:
    """Subgroup AUCs of the primary pair (or the baseline) per configured column."""
    who = list(dict.fromkeys(inp.primary or (inp.baseline,)))
    entries = {e.name: e for e in inp.entries}
    out = Subgroups(models=who, columns={}, unavailable=[])
    frame = inp.subgroups_test
    for col in cfg.subgroups:
        if frame is None or col not in frame.columns:
            out.unavailable.append(col)
            continue
        out.columns[col] = {
            name: [
                from_json_dict(SubgroupRow, r.as_dict(), f"subgroups.{col}")
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
