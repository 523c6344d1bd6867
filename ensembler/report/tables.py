"""Leaderboard and result tables of the report, formatted from the metrics dict."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ensembler.report.document import Paragraph, Table

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


def _ci(d: dict[str, Any] | None, nd: int = 3, sign: bool = False) -> str:
    if not d:
        return "n/a"
    p = d.get("point", d.get("delta"))
    return f"{fmt(p, nd, sign)} [{fmt(d['lo'], nd, sign)}, {fmt(d['hi'], nd, sign)}]"


def _p(p: Any) -> str:
    if p is None or not np.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _int(n: Any) -> str:
    if n is None:
        return "n/a"
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} k" if n >= 1e3 else str(n)


def _lat(row: dict[str, Any], bs: str) -> str:
    lat = (row.get("latency_ms") or {}).get(bs)
    return f"{lat['p50_ms']:.2f} / {lat['p95_ms']:.2f}" if lat else "n/a"


def _dev_auc(r: dict[str, Any]) -> str:
    """Development AUC with what it is, and an honest estimate beside an optimistic one."""
    if r["dev_oof_auc"] is None:
        return "n/a"
    text = f"{fmt(r['dev_oof_auc'])} ({r['dev_oof_auc_label']})"
    est = r.get("dev_estimate")
    if est:
        text += f"; {est['label']} {fmt(est['mean'])} ± {fmt(est['sd'])}"
    return text


def test_reads_paragraph(m: dict[str, Any]) -> Paragraph:
    """Which stages read the test labels, and whether any informed a choice."""
    reads = m["test_set_reads"]
    listed = "; ".join(
        f"{r['stage']} ({r['when']}: {r['what']})" for r in reads["stages"]
    )
    if reads["informed_a_choice"]:
        verdict = ("**Warning: test labels informed a choice in: "
                   + ", ".join(reads["informed_a_choice"]) + ".**")
    else:
        verdict = ("**Every choice above used development data only; none of these reads "
                   "informed a choice.**")
    return Paragraph(f"Test labels were read by {reads['count']} stage(s) of this run: "
                     f"{listed}. {verdict}")


def bootstrap_warning(m: dict[str, Any]) -> list[Paragraph]:
    """A warning when more than 1 % of some CI's resamples were dropped."""
    lines = m.get("bootstrap_warnings") or []
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


def leaderboard_table(m: dict[str, Any]) -> Table:
    base = m["baseline"]
    rows = []
    for r in m["leaderboard"]:
        op = (r["operating_point"] or {}).get("macro")
        d = r["delta_vs_baseline"]
        spread = r["seed_spread"]
        rows.append(
            [
                r["name"],
                r["kind"],
                _ci(r["test_auc"]),
                _ci(d, sign=True) if d else "(baseline)",
                _p(d["p_value"]) if d else "",
                f"{fmt(op['sensitivity']['point'], 2)} / {fmt(op['specificity']['point'], 2)}"
                if op
                else "n/a",
                fmt(r["calibration"]["brier"]["macro"]),
                fmt(r["calibration"]["ece"]["macro"]),
                _lat(r, "1"),
                _lat(r, "64"),
                _int(r["n_params"]),
                str(r["n_members"]),
                _dev_auc(r),
                f"±{fmt(spread['sd'])} (n={spread['n_seeds']})" if spread else "",
            ]
        )
    header = [
        "model", "kind", "test AUC [95% CI]", f"Δ vs {base} [95% CI]", "p",
        "sens / spec @ dev thr", "Brier", "ECE", "ms/ECG b1 p50/p95", "ms/ECG b64 p50/p95",
        "params", "members", "dev AUC", "seed SD",
    ]  # fmt: skip
    return Table(header, rows, "CIs: 95 % patient-cluster bootstrap on the test set.")


def primary_blocks(m: dict[str, Any]) -> list[Any]:
    pr = m["primary"]
    if pr is None:
        return [Paragraph("No primary comparison was named for this run.")]
    verdict = (
        "The CI excludes 0."
        if pr["lo"] is not None and (pr["lo"] > 0 or pr["hi"] < 0)
        else "The CI includes 0: no evidence of a difference on this test set."
    )
    text = (
        f"**Primary comparison (named before the test set was read): `{pr['a']}` − `{pr['b']}`.** "
        f"Δ macro AUC = {_ci(pr, sign=True)}, two-sided p = {_p(pr['p_value'])} "
        f"({pr['statistic']}, {m['settings']['n_bootstrap']} resamples). {verdict}"
    )
    rows = [
        [r["class"], fmt(r.get("auc_a")), fmt(r.get("auc_b")), fmt(r.get("z"), 2),
         _p(r.get("p_value")), _p(r.get("p_holm"))]
        if "p_value" in r else [r["class"], "n/a", "n/a", "n/a", "n/a", r["skipped"]]
        for r in pr["delong"]
    ]  # fmt: skip
    spread = pr.get("seed_spread")
    if spread:
        text += (
            f" Across {spread['n_seeds']} training seeds of the members (stack configuration "
            f"fixed, refitted on each seed's out-of-fold predictions), Δ was "
            f"{fmt(spread['mean'], sign=True)} on average (SD {fmt(spread['sd'])}, range "
            f"{fmt(spread['min'], sign=True)} to {fmt(spread['max'], sign=True)}): the part of "
            "Δ that is training noise, next to the test-sampling CI above."
        )
    return [
        Paragraph(text),
        Table(
            ["class", f"AUC {pr['a']}", f"AUC {pr['b']}", "z", "p (DeLong)", "p (Holm)"],
            rows,
            "Secondary: per-class DeLong tests treat ECGs as independent (ignore patient "
            "clustering); Holm-corrected over classes.",
        ),
    ]


def operating_blocks(m: dict[str, Any]) -> list[Any]:
    rows = []
    for r in m["leaderboard"]:
        op = r["operating_point"]
        if op is None:
            continue
        mac = op["macro"]
        rows.append(
            [r["name"], *(_ci(mac[k], 2) for k in ("sensitivity", "specificity", "ppv", "npv"))]
        )
    s = m["settings"]
    how = (
        "Youden's J"
        if s["threshold_method"] == "youden"
        else f"sensitivity ≥ {s['target_sensitivity']:g}"
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


def calibration_table(m: dict[str, Any]) -> Table:
    rows = []
    for r in m["leaderboard"]:
        cal = r["calibration"]
        slope = [v for v in cal["slope"].values() if v is not None and np.isfinite(v)]
        inter = [v for v in cal["intercept"].values() if v is not None and np.isfinite(v)]
        rows.append(
            [
                r["name"],
                fmt(cal["brier"]["macro"]),
                fmt(cal["ece"]["macro"]),
                fmt(float(np.mean(slope)) if slope else None, 2),
                fmt(float(np.mean(inter)) if inter else None, 2),
            ]
        )
    return Table(
        ["model", "Brier", f"ECE ({m['settings']['ece_bins']} bins)", "slope", "intercept"],
        rows,
        "Macro means over classes. Slope: logistic recalibration on the logit (1 ideal, <1 "
        "over-confident); intercept: calibration-in-the-large with slope fixed at 1 (0 ideal).",
    )


def subgroup_table(m: dict[str, Any]) -> Table:
    sg = m["subgroups"]
    rows = []
    for col, per_model in sg["columns"].items():
        first = per_model[sg["models"][0]]
        for i, r0 in enumerate(first):
            cells = [f"{col} = {r0['value']}", str(r0["n"]), str(r0["n_patients"])]
            for name in sg["models"]:
                r = per_model[name][i]
                cells.append(_ci({"point": r["auc"], "lo": r["lo"], "hi": r["hi"]}))
            cells.append("too small" if r0["small"] else "")
            rows.append(cells)
    return Table(
        ["subgroup", "n", "patients", *(f"AUC {n}" for n in sg["models"]), "flag"],
        rows,
        f"Flagged: fewer than {m['settings']['min_subgroup_n']} ECGs or a class without both "
        "labels; read as anecdotal."
        + (
            f" Not available in this cohort: {', '.join(sg['unavailable'])}."
            if sg["unavailable"]
            else ""
        ),
    )


def fairness_table(summary: pd.DataFrame) -> Table:
    """Every model entry with the tuning it got (0 trials when untuned)."""
    rows = []
    for r in summary.to_dict(orient="records"):
        kind, value = r.get("budget_kind"), r.get("budget")
        budget = "not tuned" if not r.get("tuned") else (
            f"{value:g} {kind}" if kind and value is not None else "no recorded budget")
        best = r.get("best_auc")
        rows.append([
            str(r["arch"]), budget, str(int(r.get("complete") or 0)),
            str(int(r.get("pruned") or 0)), str(int(r.get("failed") or 0)),
            fmt(None if best is None or pd.isna(best) else float(best)),
            f"{float(r.get('compute_seconds') or 0.0):.0f}",
            f"{float(r.get('cpu_seconds') or 0.0):.0f}",
            "" if r.get("budget_met") else "under-tuned",
        ])
    return Table(
        ["entry", "budget", "complete", "pruned", "failed", "best tuning AUC", "compute s",
         "CPU s", "flag"],
        rows,
        "Every model entry and feature member, tuned or not. Tuning AUCs come from "
        "development data; compute s is the trials' wall time, CPU s their process CPU time.",
    )


def pareto_key_table(m: dict[str, Any]) -> Table:
    """The numbers of the Pareto plot's points, as text (same order as the leaderboard)."""
    rows = [
        [str(i + 1), r["name"], _ci(r["test_auc"]), _lat(r, "1"), _int(r["n_params"])]
        for i, r in enumerate(m["leaderboard"])
    ]
    return Table(["#", "model", "test AUC [95% CI]", "ms/ECG b1 p50/p95", "params"], rows,
                 "Key of the numbered points in the Pareto plots above.")
