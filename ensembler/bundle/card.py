"""``MODEL_CARD.md``: generated from the manifest and the run, never written by hand."""

from __future__ import annotations

from typing import Any

from ensembler.bundle.card_inputs import input_rules
from ensembler.bundle.conformal_io import card_lines
from ensembler.bundle.manifest_estimates import (
    DevelopmentEstimate,
    manifest_development_estimate,
    manifest_mode_auc,
)
from ensembler.bundle.manifest_metrics import ManifestMetrics, manifest_metrics
from ensembler.report.schema import CI, RateCI
from ensembler.utils.jsonclass import SchemaError


def _f(v: Any, nd: int = 3) -> str:
    return "n/a" if v is None else f"{float(v):.{nd}f}"


def _ci(ci: CI | RateCI | None) -> str:
    if ci is None:
        return "n/a"
    return f"{_f(ci.point)} (95% CI {_f(ci.lo)}–{_f(ci.hi)})"


def _metrics(m: ManifestMetrics, classes: list[str]) -> list[str]:
    if not m.evaluated or m.stack is None:
        hint = ("" if m.mode == "refit-full" else " Run `ensembler compare` before "
                "exporting to put held-out metrics with confidence intervals here.")
        why = m.reason if "reason" not in m.absent else m.status
        return [f"Not evaluated for this mode: {why}.{hint}"]
    st = m.stack
    lines = [f"Held-out test set: {m.n_test} ECGs of {m.n_test_patients} patients "
             "(confidence intervals: patient-cluster bootstrap).", "",
             f"Measured on: {_or(m, 'source', 'the run report')}. Thresholds and calibrator: "
             f"{_or(m, 'thresholds_from', 'the stack meta-level out-of-fold predictions')}.",
             "", f"- Macro ROC AUC: {_ci(st.test_auc)}"]
    for c, v in (st.test_auc_per_class or {}).items():
        lines.append(f"  - {c}: {_ci(v)}")
    per_class = st.operating_point.per_class if st.operating_point else []
    for c, pc in zip(classes, per_class, strict=False):
        lines.append(f"- {c} at threshold {_f(pc.threshold)}: sensitivity "
                     f"{_ci(pc.sensitivity)}, specificity {_ci(pc.specificity)}, "
                     f"PPV {_ci(pc.ppv)}, NPV {_ci(pc.npv)}")
    return lines


def _or(m: ManifestMetrics, name: str, default: str) -> str:
    """Field ``name`` of ``m``, or ``default`` when the block (an older one) lacks it."""
    return default if name in m.absent else str(getattr(m, name))


def _comparison(m: ManifestMetrics) -> list[str]:
    if not m.leaderboard:
        return ["Not available (no report)."]
    out = ["| model | kind | dev AUC (what it is) | test AUC (95% CI) |", "|---|---|---|---|"]
    for r in m.leaderboard:
        label = f" ({r.dev_oof_auc_label})" if r.dev_oof_auc_label else ""
        out.append(f"| {r.name} | {r.kind} | {_f(r.dev_oof_auc)}{label} | "
                   f"{_ci(r.test_auc)} |")
    if m.leaderboard_note:
        out += ["", f"Note: {m.leaderboard_note}."]
    return out


def _dev_estimate(est: DevelopmentEstimate) -> list[str]:
    """The development estimate, and the optimistic score it is not, each labelled."""
    if est.kind == "none":
        head = f"Development estimate: none ({est.label})."
    else:
        head = (f"Development estimate (macro AUC): {_f(est.mean)} ± {_f(est.sd)}"
                f" — {est.label}.")
    lines = [head]
    if est.inner_cv_auc is not None:
        lines += ["", f"Score the stack was selected on: {_f(est.inner_cv_auc)} — "
                  f"{est.inner_cv_label}; not an estimate of performance."]
    return lines


def _subgroups(m: ManifestMetrics) -> list[str]:
    cols = m.subgroups.columns if m.subgroups else {}
    if not cols:
        return ["Not available (no subgroup report)."]
    out = ["| column | value | model | n | AUC (95% CI) |", "|---|---|---|---|---|"]
    for col, by_model in cols.items():
        for model, rows in by_model.items():
            for r in rows:
                flag = " (small)" if r.small else ""
                out.append(f"| {col} | {r.value} | {model} | {r.n} | "
                           f"{_f(r.auc)} ({_f(r.lo)}–{_f(r.hi)}){flag} |")
    return out


def model_card(man: dict[str, Any]) -> str:
    """Markdown model card from the (JSON-clean) manifest."""
    classes = man["task"]["class_names"]
    data = man["data"]
    dev, test = data["development"], data["test"]
    stack = man["stack"]
    lat = man.get("latency_ms", {}).get("batch_1", {})
    modes = manifest_mode_auc(man).values
    inp_spec = man["input"]
    metrics = manifest_metrics(man)
    if metrics is None:
        raise SchemaError("manifest.json: metrics: missing (expected the headline metrics "
                          "block)")
    lines = [
        f"# Model card — {man['run']['name']} / {stack['name']}", "",
        "## Intended use", "", man["intended_use"], "",
        f"Task: {man['task']['type']} classification of 12-lead ECGs into {classes}. Output: a "
        "calibrated probability per class and a decision at a fixed threshold.", "",
        "## Inputs", "",
        f"- Leads, in this order: {', '.join(inp_spec['lead_names'])} (matched by name; III, aVR, "
        "aVL, aVF are derived from I and II when only 8 leads are stored).",
        f"- Resampled to {inp_spec['fs']:g} Hz, {inp_spec['duration_s']:g} s "
        f"({inp_spec['n_samples']} samples); band-pass "
        f"{inp_spec['preprocessing'].get('bandpass') or 'none'}.",
        *input_rules(inp_spec), "",
        "## Training data", "",
        f"Source: {data['source']}. Development: {dev['records']} ECGs of {dev['patients']} "
        f"patients (positives {dev['positives']}); held-out test: {test['records']} ECGs of "
        f"{test['patients']} patients (positives {test['positives']}).", "",
        f"Split: {data['n_folds']} patient-grouped cross-validation folds on the development "
        f"set; the test patients were held out (`split` = {data['split']}). Every patient's "
        "ECGs lie in one fold only.", "",
        *_model_lines(man, classes),
        "## Test metrics", "", *_metrics(metrics, classes), "",
        "## Single models vs the ensemble", "", *_comparison(metrics), "",
        "Member mode, test macro AUC (information only; the mode was chosen on development "
        "data): " + ", ".join(f"{k} {_f(v)}" for k, v in modes.items()) + ".", "",
        "## Subgroups", "", *_subgroups(metrics), "",
        "## Latency", "",
        f"{_f(lat.get('p50_ms'), 1)} ms per ECG at batch 1 (median; p95 "
        f"{_f(lat.get('p95_ms'), 1)} ms) on CPU with {man.get('latency_ms', {}).get('threads')} "
        "thread(s), measured at export.", "",
        *card_lines(man),
        "## How each choice was made", "",
        *[f"- **{k}**: {v}" for k, v in man["provenance"].items()], "",
        *_closing_lines(man),
    ]
    return "\n".join(lines)


def _model_lines(man: dict[str, Any], classes: list[str]) -> list[str]:
    """The "Model" section: members, calibration, thresholds, development estimate."""
    mem, stack = man["members"], man["stack"]
    cal = stack["calibration_scores"] or {}
    return [
        "## Model", "",
        f"Stacked ensemble `{stack['label']}`; members ({mem['mode']}): "
        + ", ".join(_member_text(m) for m in mem["list"]) + ".", "",
        f"Calibration: `{stack['calibration']}` (cross-validated log-loss per method: "
        + ", ".join(f"{k} {_f(v, 4)}" for k, v in cal.items()) + "). Thresholds: "
        + ", ".join(f"{c} {_f(t)}" for c, t in zip(classes, man["operating"]["thresholds"],
                                                     strict=True))
        + f" ({man['operating'].get('method')}).", "",
        *_dev_estimate(manifest_development_estimate(man)),
        "",
    ]


def _closing_lines(man: dict[str, Any]) -> list[str]:
    """Limitations and how to verify the bundle (with the parity measured at export)."""
    return [
        "## Limitations", "",
        "- Validated only on the data described above; performance on other populations, "
        "devices, sampling rates or lead placements is unknown until checked with "
        "`ensembler evaluate`.",
        "- Records are assumed to be resting 12-lead ECGs in mV; signals with NaN values or "
        "flat leads are refused, not repaired.",
        "- Subgroups marked *small* have too few records for a stable estimate.",
        "- The thresholds were chosen on development data and are not re-tuned on new data.",
        "", "## Verifying this bundle", "",
        "```", "ensembler verify BUNDLE            # every SHA-256 + the manifest digest",
        "ensembler evaluate BUNDLE labels.csv   # re-validate on your own labelled data", "```",
        "", "The manifest digest is printed by `ensembler verify`; compare it with the value "
        "published by the exporter (`--expect-digest`). Parity with the run's own test "
        f"predictions at export: max abs difference {man.get('parity', {}).get('max_abs_diff')}"
        " on the cached preprocessed signals; " + _raw_parity(man) + ".",
        "",
    ]


def _raw_parity(man: dict[str, Any]) -> str:
    """One clause on the raw-WFDB parity check: its result, or why it did not run."""
    raw = man.get("parity", {}).get("raw_records") or {}
    if raw.get("ran"):
        return (f"from the raw WFDB files of {raw.get('n_records')} test records, max abs "
                f"difference {raw.get('max_abs_diff')}")
    return f"the check from raw WFDB files did not run ({raw.get('reason', 'not recorded')})"


def _member_text(m: dict[str, Any]) -> str:
    """'`cnn` (cnn1d, 1,234 parameters, 5 network(s))' or a feature member's equivalent."""
    if m.get("kind") == "features":
        fs = m["feature_set"]
        learner = ("logistic regression (median imputation, standardisation)"
                   if m.get("learner") == "logistic" else "LightGBM")
        return (f"`{m['name']}` (ECG feature set {fs['name']} v{fs['version']} + {learner}, "
                f"{len(m['models'])} fold model(s) of one model per class)")
    return (f"`{m['name']}` ({m['arch']}, {m['n_params']:,} parameters, "
            f"{len(m['models'])} network(s))")
