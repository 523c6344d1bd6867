"""The comparison stage: leaderboard rows from members and stacks, then the report.

The test set is read here, once, at the end: every threshold, calibration and
choice of stack or best single model was made before, on development data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ensembler.errors import StageError
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.stack import PRIMARY, load_fitted, load_member_predictions
from ensembler.pipeline.stage import Stage
from ensembler.report.mode_evidence import CSV as EVIDENCE_CSV
from ensembler.report.mode_evidence import current_evidence
from ensembler.report.schema import Metrics, read_metrics
from ensembler.training.metrics import macro_auc

PROVENANCE = {
    "best single model": "highest development out-of-fold macro-AUC (BestSingle)",
    "stack configuration": "joint Optuna study, patient-grouped CV on development OOF",
    "member set": "joint Optuna study (boolean per member) on development OOF",
    "thresholds": "each row's own development OOF predictions (stacks: meta-level OOF)",
    "calibration": "cross-validated log-loss on development OOF",
    "member hyper-parameters": "per-architecture Optuna studies on development patients only",
    "test set": "read by this report after every choice above was fixed; every stage that "
    "read test labels is listed under test_set_reads, and none informed a choice",
}


def provenance_of_tuning(trials: pd.DataFrame | None, summary: pd.DataFrame | None
                         ) -> dict[str, str]:
    """:data:`PROVENANCE` as this run's tuning stage made it: member hyper-parameters are
    configured when no study ran (or name the entries without one, ``tuning.search`` a
    list), and the epochs the schedule step chose say where from."""
    out = dict(PROVENANCE)
    if trials is None:
        out["member hyper-parameters"] = "configured (no hyper-parameter search)"
    elif summary is not None and "tuned" in summary and not summary["tuned"].all():
        unsearched = ", ".join(str(a) for a in summary.loc[~summary["tuned"].astype(bool),
                                                           "arch"])
        out["member hyper-parameters"] = (f"{PROVENANCE['member hyper-parameters']}; "
                                          f"configured for {unsearched} (no study)")
    if summary is not None and summary["schedule"].map(lambda v: isinstance(v, str)).any():
        out["member epochs"] = (
            "the tuning's schedule step: a longer schedule adopted only when the paired "
            "patient-bootstrap 95% CI of its macro-AUC gain on the tuning holdout "
            "(development patients only; never the OOF folds' predictions) is above 0")
    return out


def _fairness(ctx: RunContext) -> tuple[Any, str, Any]:
    """(trials of every study, the budget sentence, one row per model entry); the trials
    are None when no study ran (the schedule step alone), all three when nothing was
    tuned."""
    try:
        from ensembler.tuning.results import budget_sentence, fairness_table, trials_frame
    except ImportError:
        return None, "", None
    table = trials_frame(ctx.cfg, ctx.run_dir)
    if "surplus" in table:
        table = table[~table["surplus"].astype(bool)]
    summary = fairness_table(ctx.cfg, ctx.run_dir)
    scheduled = bool(summary["schedule"].map(lambda v: isinstance(v, str)).any())
    if len(table) == 0 and not scheduled:
        return None, "", None
    return (table if len(table) else None), budget_sentence(summary), summary


def _stack_names(run_dir: Path) -> list[str]:
    """The stacks the stacking stage fitted (its ``stage.json``), in its order."""
    stage_file = run_dir / "stack" / "stage.json"
    if not stage_file.is_file():
        raise StageError(f"{stage_file} missing; run `ensembler stack` first")
    return list(json.loads(stage_file.read_text())["names"])


def _leaderboard(ctx: RunContext, preds: dict[str, Any], stacks: list[str],
                 joint: dict[str, Any], by_entry: dict[str, list[str]], y_test: Any
                 ) -> tuple[list[Any], Any]:
    """Every leaderboard row in report order (the one-model row, refit-full models, fold
    bags, seed bags, stacks, distilled students) and the distillation rows' record."""
    from ensembler.pipeline.distill import distilled_entries
    from ensembler.pipeline.rows import (
        RowCosts,
        fold_bag_rows,
        one_model_row,
        refit_full_rows,
        seed_bag_rows,
        stack_rows,
    )

    k = int(ctx.split.n_folds)
    cost = RowCosts.measure(ctx, preds)
    one = one_model_row(ctx, preds, cost)
    entries = [*([one] if one else []), *refit_full_rows(preds, cost),
               *fold_bag_rows(preds, cost, k),
               *seed_bag_rows(preds, by_entry, cost, k, y_test),
               *stack_rows(ctx, preds, stacks, joint, cost, k)]
    distilled = distilled_entries(ctx, k, ctx.cfg.report.latency_repeats)
    return entries + distilled.entries, distilled


def _oracle_auc(ctx: RunContext, test: np.ndarray, y_test: np.ndarray) -> float | None:
    """Macro AUC of the synthetic cohort's true risk on the test rows (None on real data)."""
    if ctx.cohort.oracle_risk is None:
        return None
    risk = np.asarray(ctx.cohort.oracle_risk)[test]
    return macro_auc(y_test, risk.reshape(len(test), -1))


def _training_curves(ctx: RunContext, preds: dict[str, Any]) -> dict[str, list[str]]:
    """Each member's fold ``curve.csv`` paths (feature members have no epochs: none)."""
    return {m: curves for m in preds
            if (curves := sorted(str(f) for f in
                                 (ctx.run_dir / "base" / m).glob("fold_*/curve.csv")))}


def build_comparison(ctx: RunContext) -> Any:
    """The :class:`ensembler.report.ComparisonInput` of the run."""
    from ensembler.pipeline.diversity import run_diversity
    from ensembler.pipeline.importance import feature_importances
    from ensembler.pipeline.rows import seed_groups
    from ensembler.report import ComparisonInput

    cfg, cohort, split, run_dir = ctx.cfg, ctx.cohort, ctx.split, ctx.run_dir
    stacks = _stack_names(run_dir)
    preds = load_member_predictions(ctx)
    dev = np.flatnonzero(split.fold >= 0)
    test = np.flatnonzero(split.fold == -1)
    if len(test) == 0:
        raise StageError("the split has no test set (split.test: none); nothing to compare on")
    y_dev, y_test = cohort.labels[dev], cohort.labels[test]
    by_entry = seed_groups(preds)
    joint = json.loads((run_dir / "stack" / "study.json").read_text()).get(PRIMARY, {})
    entries, distilled = _leaderboard(ctx, preds, stacks, joint, by_entry, y_test)
    fairness, note, fairness_summary = _fairness(ctx)
    eff_csv = run_dir / "efficiency" / "data_efficiency.csv"
    efficiency = pd.read_csv(eff_csv) if eff_csv.is_file() and cfg.report.data_efficiency else None
    evidence = current_evidence(run_dir)  # members retrained since it was made: left out
    oracle = _oracle_auc(ctx, test, y_test)
    tuned = {m for m, p in preds.items() if p.meta.tuned}
    seed_deltas = _seed_deltas(ctx, preds, y_test)
    reads = _test_reads(ctx, efficiency is not None,
                        any(len(ms) > 1 for ms in by_entry.values()) or seed_deltas is not None,
                        oracle is not None)
    return ComparisonInput(
        class_names=list(cohort.class_names), y_test=y_test, groups_test=cohort.patient_id[test],
        y_dev=y_dev, groups_dev=cohort.patient_id[dev], entries=entries,
        subgroups_test=cohort.subgroups.iloc[test].reset_index(drop=True),
        primary=(PRIMARY, "best_single"), baseline="best_single",
        training_curves=_training_curves(ctx, preds),
        fairness=fairness, fairness_note=note, fairness_summary=fairness_summary,
        data_efficiency=efficiency,
        mode_evidence=evidence,
        tuned_members=tuned, oracle_auc=oracle,
        provenance=provenance_of_tuning(fairness, fairness_summary),
        stack_study={"inner_best_cv_auc": joint.get("best_value"), "nested": joint.get("nested"),
                     "pareto": joint.get("pareto")},
        run_name=cfg.name,
        test_reads=reads,
        test_ledger=record_test_read(ctx, test, reads, efficiency is not None),
        primary_seed_deltas=seed_deltas,
        distill_teacher=distilled.teacher,
        distill_twins=distilled.twins,
        feature_importance=feature_importances(ctx, preds, cfg.report.top_features),
        attributions=_attributions(ctx, preds),
        diversity=run_diversity(ctx),
    )


def evaluated_digest(run_dir: Path, efficiency: bool) -> str:
    """What a comparison evaluates on the test set, as a digest: the stacking stage (members'
    predictions, stacks), the distillation stage and the data-efficiency curve's stage.
    Report settings are left out: re-rendering the same models is not a new read."""
    from ensembler.pipeline.distill import STAGE as DISTILL_STAGE
    from ensembler.utils.hashing import fingerprint

    return fingerprint({
        "stacking": Stage.read_key(run_dir / "stack" / "stage.json"),
        "distillation": Stage.read_key(run_dir / DISTILL_STAGE),
        "data efficiency": Stage.read_key(run_dir / "efficiency" / "stage.json")
        if efficiency else None})


def record_test_read(ctx: RunContext, test: np.ndarray, reads: list[dict[str, str]],
                     efficiency: bool) -> Any:
    """This read of the test set in the test-read ledger (:mod:`ensembler.report.ledger`):
    appended unless the same models were recorded before; the report's ledger block."""
    from datetime import UTC, datetime

    from ensembler.report.ledger import (
        LedgerEntry,
        code_version,
        fingerprint_test_set,
        ledger_path,
        record_read,
    )

    cfg = ctx.cfg
    entry = LedgerEntry(
        fingerprint=fingerprint_test_set(ctx.cohort.record_id[test]), n_test=len(test),
        classes=[str(c) for c in ctx.cohort.class_names], config=cfg.name,
        run_dir=str(ctx.run_dir.absolute()), evaluated=evaluated_digest(ctx.run_dir, efficiency),
        code=code_version(), time=datetime.now(UTC).isoformat(timespec="seconds"),
        what=" + ".join(["leaderboard + primary comparison", *(r["stage"] for r in reads)]))
    return record_read(ledger_path(cfg.report.test_ledger), entry,
                       [d.model_dump() for d in cfg.report.declared_test_reads])


def _attributions(ctx: RunContext, preds: dict[str, Any]) -> Any:
    """The report's attribution section of the primary stack and the best single model."""
    if not ctx.cfg.report.explain.enabled:
        return None
    from ensembler.explain.section import explain_section

    return explain_section(ctx.cfg, ctx.run_dir, ctx.cohort, preds,
                           load_fitted(ctx.run_dir, PRIMARY),
                           load_fitted(ctx.run_dir, "best_single"), PRIMARY)


def _seed_deltas(ctx: RunContext, preds: dict[str, Any], y_test: Any) -> list[float] | None:
    """The primary Δ once per members' training seed (None without seed replicas)."""
    from ensembler.pipeline.seed_spread import primary_seed_deltas, seed_replicas
    from ensembler.pipeline.stack import level1_data

    replicas = seed_replicas(preds)
    if not replicas:
        return None
    specs = (load_fitted(ctx.run_dir, PRIMARY).spec, load_fitted(ctx.run_dir, "best_single").spec)
    return primary_seed_deltas(level1_data(ctx, preds), specs, replicas, y_test, ctx.cfg.seed,
                               list(ctx.cfg.stacking.calibration))


def _test_reads(ctx: RunContext, efficiency: bool, seed_bags: bool,
                oracle: bool) -> list[dict[str, str]]:
    """Stages besides the report that read the test labels (none chooses anything)."""
    reads = []
    if efficiency:
        reads.append({"stage": "data efficiency", "when": "before this report",
                      "what": "test macro AUC of members trained on fractions of the "
                              "development patients (a curve; nothing is chosen from it)"})
    if seed_bags:
        reads.append({"stage": "seed spread", "when": "this report",
                      "what": "test macro AUC of each seed replica and the primary Δ per "
                              "members' training seed (training variance)"})
    if oracle:
        reads.append({"stage": "oracle AUC", "when": "this report",
                      "what": "AUC of the planted risk (synthetic cohorts only)"})
    if ctx.cfg.report.explain.enabled:
        reads.append({"stage": "attributions", "when": "this report",
                      "what": "test labels, only to find the drawn ECGs by the rule fixed in "
                              "report.explain (first patients by id with the class positive)"})
    if ctx.cfg.export.enabled:
        reads.append({"stage": "bundle export", "when": "after this report",
                      "what": "test macro AUC per member mode, and the refit-full headline "
                              "when that mode is shipped; the mode is chosen on development "
                              "data (information only)"})
    return reads


def _file_digest(path: Any) -> str | None:
    from ensembler.utils.hashing import file_sha256

    return file_sha256(path) if path.is_file() else None


def evidence_input(run_dir: Path) -> dict[str, str]:
    """The member-mode evidence as a stage input: its digest, or nothing when the run has
    none (so runs without it keep their stage keys)."""
    digest = _file_digest(run_dir / EVIDENCE_CSV)
    return {} if digest is None else {"member mode evidence": digest}


#: report fields about the test-read ledger: never part of a stage key (runs stay resumable)
LEDGER_FIELDS = {"test_ledger", "declared_test_reads"}


def report_key(report: Any) -> dict[str, Any]:
    """The report config as the comparison stage is keyed by it: without the ledger fields."""
    return dict(report.model_dump(mode="json", exclude=LEDGER_FIELDS))


def declared_input(report: Any) -> dict[str, Any]:
    """The declared earlier test reads as a stage input, or nothing when none is declared
    (so runs without them keep their keys): declaring one re-renders the report's count."""
    declared = report.model_dump(mode="json")["declared_test_reads"]
    return {"declared test reads": declared} if declared else {}


def compare_stage(ctx: RunContext) -> Stage[Metrics]:
    """The comparison stage: keyed by the stacking stage, the report config, the
    data-efficiency curve, the member-mode evidence (when any), the distillation stage's
    record and the diversity stage."""
    from ensembler.report import build_report

    out = ctx.run_dir / "report"
    stack = Stage.read_key(ctx.run_dir / "stack" / "stage.json")

    def run() -> tuple[Metrics, dict[str, Any]]:
        return build_report(build_comparison(ctx), out, ctx.cfg.report, seed=ctx.cfg.seed), {}

    return Stage(
        "comparison", out / "stage.json",
        inputs={"stacking": stack, "report config": report_key(ctx.cfg.report),
                "seed": ctx.cfg.seed,
                "data efficiency": _file_digest(ctx.run_dir / "efficiency"
                                                / "data_efficiency.csv"),
                "distillation": _file_digest(ctx.run_dir / "distill" / "stage.json"),
                **evidence_input(ctx.run_dir), **declared_input(ctx.cfg.report),
                "diversity": Stage.read_key(ctx.run_dir / "diversity" / "stage.json")
                if ctx.cfg.report.diversity.enabled else None},
        run=run, load=lambda _: read_metrics(out / "metrics.json"),
        outputs=[out / "metrics.json"], say=ctx.say)


def run_compare(ctx: RunContext) -> Metrics:
    """Write report/ (metrics.json, report.md, report.html, figures); skip when unchanged.

    The diversity stage runs first (skipped when current), so the comparison is keyed by
    the panel it shows."""
    from ensembler.pipeline.diversity import run_diversity

    run_diversity(ctx)
    return compare_stage(ctx).execute()
