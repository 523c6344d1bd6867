"""Leaderboard and result tables of the report, formatted from the metrics dict."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ensembler.report.document import Paragraph, Table
from ensembler.report.schema import (
    CI,
    DeltaCI,
    LeaderboardRow,
    Metrics,
    ParetoRow,
    RateCI,
    SeedSpread,
)

__all__ = [
    "HOW_TO_READ",
    "calibration_table",
    "fairness_table",
    "fmt",
    "leaderboard_table",
    "operating_blocks",
    "pareto_key_table",
    "primary_blocks",
    "subgroup_table",
    "test_reads_paragraph",
]

HOW_TO_READ = (
    "**How to read the leaderboard.** Rows go from one model (the best single member's "
    "fold-1 model: `:one_network` for a network, `:one_model` for a feature member, whose "
    "latency includes computing the features; `:refit_full`: a member's single network "
    "trained once on all development data) to the K-fold bag of each member (the "
    "out-of-fold members), the seed bag, the best single member chosen on "
    "development data (`{base}`), and the stacks. *Test AUC* is the macro ROC AUC over "
    "classes with its 95 % patient-cluster bootstrap CI (sampling variance of the test set). "
    "*Δ vs {base}* is the paired bootstrap difference on the same resamples, with its "
    "two-sided p; only the primary comparison is a confirmatory test, the other Δs are "
    "descriptive. *Sens/Spec* are macro means over classes at thresholds chosen on "
    "development out-of-fold predictions. *Dev AUC* says what it is: 'selected on "
    "(optimistic)' is the score a choice was made on (best single, tuned stacks, tuned "
    "members), 'out-of-fold' is an honest development estimate, and the joint stack's "
    "nested-CV estimate stands beside its optimistic inner score. A gain worth its cost is a "
    "Δ whose CI excludes 0 at a latency and size you can afford."
)


def fmt(x: Any, nd: int = 3, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"


def _ci(d: CI | RateCI | DeltaCI | None, nd: int = 3, sign: bool = False) -> str:
    if d is None:
        return "n/a"
    p = d.delta if isinstance(d, DeltaCI) else d.point
    return f"{fmt(p, nd, sign)} [{fmt(d.lo, nd, sign)}, {fmt(d.hi, nd, sign)}]"


def _p(p: Any) -> str:
    if p is None or not np.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _int(n: Any) -> str:
    if n is None:
        return "n/a"
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} k" if n >= 1e3 else str(n)


def _lat(row: ParetoRow, bs: int) -> str:
    lat = row.latency(bs)
    return f"{lat.p50_ms:.2f} / {lat.p95_ms:.2f}" if lat else "n/a"


def _dev_auc(r: LeaderboardRow) -> str:
    """Development AUC with what it is, and an honest estimate beside an optimistic one."""
    if r.dev_oof_auc is None:
        return "n/a"
    text = f"{fmt(r.dev_oof_auc)} ({r.dev_oof_auc_label})"
    est = r.dev_estimate
    if est:
        text += f"; {est.label} {fmt(est.mean)} ± {fmt(est.sd)}"
    return text


def test_reads_paragraph(m: Metrics) -> Paragraph:
    """Which stages read the test labels, whether any informed a choice, and which read of
    this test set this is (the test-read ledger)."""
    reads = m.test_set_reads
    listed = "; ".join(f"{r.stage} ({r.when}: {r.what})" for r in reads.stages)
    if reads.informed_a_choice:
        verdict = ("**Warning: test labels informed a choice in: "
                   + ", ".join(reads.informed_a_choice) + ".**")
    else:
        verdict = ("**Every choice above used development data only; none of these reads "
                   "informed a choice.**")
    across = (reads.ledger.sentence if reads.ledger is not None else
              "Reads of this test set by other runs were not checked (no test-read ledger).")
    return Paragraph(f"Test labels were read by {reads.count} stage(s) of this run: "
                     f"{listed}. {verdict} {across}")


def bootstrap_warning(m: Metrics) -> list[Paragraph]:
    """A warning when more than 1 % of some CI's resamples were dropped."""
    lines = m.bootstrap_warnings
    if not lines:
        return []
    return [Paragraph(
        "**Warning: degenerate bootstrap resamples.** More than 1 % of the resamples were "
        "dropped from these intervals (a class lost all its positives or negatives in the "
        "resample, or a rate had an empty denominator), so they rest on fewer resamples and "
        "describe only resamples that kept the rare cases: " + "; ".join(lines) + ". "
        "Counts per row, class, subgroup and operating point are in metrics.json "
        "(`bootstrap_dropped`, subgroup `n_dropped`)."
    )]


def _sens_spec(r: LeaderboardRow) -> str:
    op = r.operating_point.macro if r.operating_point else None
    if not op:
        return "n/a"
    return f"{fmt(op['sensitivity'].point, 2)} / {fmt(op['specificity'].point, 2)}"


def leaderboard_table(m: Metrics) -> Table:
    rows = []
    for r in m.leaderboard:
        d = r.delta_vs_baseline
        spread = r.seed_spread
        rows.append(
            [
                r.name,
                r.kind,
                _ci(r.test_auc),
                _ci(d, sign=True) if d else "(baseline)",
                _p(d.p_value) if d else "",
                _sens_spec(r),
                fmt(r.calibration.brier.macro),
                fmt(r.calibration.ece.macro),
                _lat(r, 1),
                _lat(r, 64),
                _int(r.n_params),
                str(r.n_members),
                _dev_auc(r),
                f"±{fmt(spread.sd)} (n={spread.n_seeds})" if spread else "",
            ]
        )
    header = [
        "model", "kind", "test AUC [95% CI]", f"Δ vs {m.baseline} [95% CI]", "p",
        "sens / spec @ dev thr", "Brier", "ECE", "ms/ECG b1 p50/p95", "ms/ECG b64 p50/p95",
        "params", "members", "dev AUC", "seed SD",
    ]  # fmt: skip
    return Table(header, rows, "CIs: 95 % patient-cluster bootstrap on the test set.")


def _primary_seed_text(spread: SeedSpread | None) -> str:
    if not spread:
        return ""
    return (
        f" Across {spread.n_seeds} training seeds of the members (stack configuration "
        f"fixed, refitted on each seed's out-of-fold predictions), Δ was "
        f"{fmt(spread.mean, sign=True)} on average (SD {fmt(spread.sd)}, range "
        f"{fmt(spread.min, sign=True)} to {fmt(spread.max, sign=True)}): the part of "
        "Δ that is training noise, next to the test-sampling CI above."
    )


def primary_blocks(m: Metrics) -> list[Any]:
    pr = m.primary
    if pr is None:
        return [Paragraph("No primary comparison was named for this run.")]
    excludes = pr.lo is not None and pr.hi is not None and (pr.lo > 0 or pr.hi < 0)
    verdict = ("The CI excludes 0." if excludes
               else "The CI includes 0: no evidence of a difference on this test set.")
    text = (
        f"**Primary comparison (named before the test set was read): `{pr.a}` − `{pr.b}`.** "
        f"Δ macro AUC = {_ci(DeltaCI(pr.delta, pr.lo, pr.hi, pr.p_value), sign=True)}, "
        f"two-sided p = {_p(pr.p_value)} "
        f"({pr.statistic}, {m.settings.n_bootstrap} resamples). {verdict}"
    )
    rows = [
        [r.class_, fmt(r.auc_a), fmt(r.auc_b), fmt(r.z, 2), _p(r.p_value), _p(r.p_holm)]
        if r.skipped is None else [r.class_, "n/a", "n/a", "n/a", "n/a", r.skipped]
        for r in pr.delong
    ]  # fmt: skip
    return [
        Paragraph(text + _primary_seed_text(pr.seed_spread)),
        Table(
            ["class", f"AUC {pr.a}", f"AUC {pr.b}", "z", "p (DeLong)", "p (Holm)"],
            rows,
            "Secondary: per-class DeLong tests treat ECGs as independent (ignore patient "
            "clustering); Holm-corrected over classes.",
        ),
    ]


def operating_blocks(m: Metrics) -> list[Any]:
    rows = []
    for r in m.leaderboard:
        if r.operating_point is None:
            continue
        mac = r.operating_point.macro
        rows.append(
            [r.name, *(_ci(mac[k], 2) for k in ("sensitivity", "specificity", "ppv", "npv"))]
        )
    s = m.settings
    how = (
        "Youden's J"
        if s.threshold_method == "youden"
        else f"sensitivity ≥ {s.target_sensitivity:g}"
    )
    return [
        Paragraph(
            f"Thresholds: {how} on each model's development out-of-fold predictions "
            "(meta-level OOF for stacks), then applied unchanged to the test set. "
            "Per-class thresholds and rates are in metrics.json."
        ),
        Table(
            ["model", "sensitivity", "specificity", "PPV", "NPV"],
            rows,
            "Macro mean over classes [95% CI].",
        ),
    ]


def _finite_mean(values: Iterable[float | None]) -> float | None:
    v = [x for x in values if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else None


def calibration_table(m: Metrics) -> Table:
    rows = [
        [r.name, fmt(r.calibration.brier.macro), fmt(r.calibration.ece.macro),
         fmt(_finite_mean(r.calibration.slope.values()), 2),
         fmt(_finite_mean(r.calibration.intercept.values()), 2)]
        for r in m.leaderboard
    ]
    return Table(
        ["model", "Brier", f"ECE ({m.settings.ece_bins} bins)", "slope", "intercept"],
        rows,
        "Macro means over classes. Slope: logistic recalibration on the logit (1 ideal, <1 "
        "over-confident); intercept: calibration-in-the-large with slope fixed at 1 (0 ideal).",
    )


def subgroup_table(m: Metrics) -> Table:
    sg = m.subgroups
    rows = []
    for col, per_model in sg.columns.items():
        first = per_model[sg.models[0]]
        for i, r0 in enumerate(first):
            cells = [f"{col} = {r0.value}", str(r0.n), str(r0.n_patients)]
            for name in sg.models:
                r = per_model[name][i]
                cells.append(_ci(CI(r.auc, r.lo, r.hi)))
            cells.append("too small" if r0.small else "")
            rows.append(cells)
    return Table(
        ["subgroup", "n", "patients", *(f"AUC {n}" for n in sg.models), "flag"],
        rows,
        f"Flagged: fewer than {m.settings.min_subgroup_n} ECGs or a class without both "
        "labels; read as anecdotal."
        + (
            f" Not available in this cohort: {', '.join(sg.unavailable)}."
            if sg.unavailable
            else ""
        ),
    )


def _seconds(value: float | None) -> float:
    """A fairness-table time: missing or NaN (an entry that was never tuned) reads 0."""
    return 0.0 if value is None or math.isnan(value) else float(value)


def fairness_table(summary: pd.DataFrame) -> Table:
    """Every model entry with the tuning it got (0 trials when untuned) and its schedule
    step (the decision, each round's AUC gain with its CI)."""
    rows = []
    for r in summary.to_dict(orient="records"):
        kind, value = r.get("budget_kind"), r.get("budget")
        schedule = r.get("schedule")
        scheduled = isinstance(schedule, str)
        budget = ("schedule only" if scheduled else "not tuned") if not r.get("tuned") else (
            f"{value:g} {kind}" if kind and value is not None else "no recorded budget")
        best = r.get("best_auc")
        rows.append([
            str(r["arch"]), budget, str(int(r.get("complete") or 0)),
            str(int(r.get("pruned") or 0)), str(int(r.get("failed") or 0)),
            fmt(None if best is None or pd.isna(best) else float(best)),
            str(schedule) if scheduled else "",
            f"{_seconds(r.get('compute_seconds')):.0f}",
            f"{_seconds(r.get('cpu_seconds')):.0f}",
            "" if r.get("budget_met") else "under-tuned",
        ])
    return Table(
        ["entry", "budget", "complete", "pruned", "failed", "best tuning AUC",
         "schedule (epochs: AUC gain [95% CI])", "compute s", "CPU s", "flag"],
        rows,
        "Every model entry and feature member, tuned or not. Tuning AUCs come from "
        "development data; the schedule step compares an entry's epochs with a longer "
        "schedule on the tuning split (kept only when the CI of the gain is above 0); "
        "compute s is the wall time of the trials and the schedule step, CPU s their "
        "process CPU time.",
    )


def pareto_key_table(rows: Sequence[ParetoRow]) -> Table:
    """The numbers of the Pareto plot's points, as text (same order as the leaderboard)."""
    cells = [
        [str(i + 1), r.name, _ci(r.test_auc), _lat(r, 1), _int(r.n_params)]
        for i, r in enumerate(rows)
    ]
    return Table(["#", "model", "test AUC [95% CI]", "ms/ECG b1 p50/p95", "params"], cells,
                 "Key of the numbered points in the Pareto plots above.")
