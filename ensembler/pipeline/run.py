"""``ensembler run``: every stage in order, each skipped when its output is current.

data (synthesised when the config says so) -> cache -> split -> tuning (optional)
-> OOF training -> stacking study -> comparison report -> bundle export -> predict of
the exported bundle on the test records' WFDB files, with a parity check against the
pipeline's own stacked test predictions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from ensembler.errors import StageError
from ensembler.pipeline.context import RunContext
from ensembler.utils.atomic import write_json
from ensembler.utils.progress import LogFile, StageRunner

PARITY_TOL = 1e-5


@dataclass
class RunResult:
    metrics: dict[str, Any]
    bundle: Path | None
    parity: dict[str, Any] | None
    seconds: dict[str, float] = field(default_factory=dict)


def test_record_paths(ctx: RunContext) -> pd.DataFrame:
    """record_id and WFDB path of every test record, from the cache's metadata."""
    from ensembler.data.load import cache_dir_of

    meta = pd.read_csv(cache_dir_of(ctx.cfg, ctx.run_dir / "cohort") / "metadata.csv",
                       dtype=str)
    test_ids = set(ctx.cohort.record_id[ctx.split.fold == -1].astype(str))
    return meta[meta["record_id"].isin(test_ids)][["record_id", "path"]]


def predict_parity(ctx: RunContext, bundle_path: Path) -> dict[str, Any]:
    """Predict the bundle from the test records' raw WFDB files; compare with the run."""
    from ensembler.bundle import load_bundle
    from ensembler.bundle.lengths import LengthPolicy
    from ensembler.bundle.predict import predict_inputs
    from ensembler.bundle.records import RecordInput
    from ensembler.bundle.run_inputs import pipeline_test_predictions, read_run

    cohort, split = ctx.cohort, ctx.split
    bundle = load_bundle(bundle_path)
    paths = test_record_paths(ctx)
    test = np.flatnonzero(split.fold == -1)
    row_of = {r: i for i, r in enumerate(cohort.record_id[test].astype(str))}
    tab_names = list(bundle.tabular_names)
    cols = [cohort.tabular_names.index(n) for n in tab_names]
    records = []
    for rid, path in zip(paths["record_id"], paths["path"], strict=True):
        vals: list[float] = (
            [float(v) for v in cohort.tabular[test[row_of[rid]], cols]] if cols else [])
        records.append(RecordInput(record_id=rid, path=Path(path),
                                   tabular={n: float(v) for n, v in zip(tab_names, vals,
                                                                        strict=True)}))
    t0 = time.perf_counter()
    # reproduce the run's own inputs: its cache padded short records and kept missing values
    out = predict_inputs(bundle, records, missing="as-trained",
                         policy=LengthPolicy(pad_short=True), screen=False)
    seconds = time.perf_counter() - t0
    got = np.asarray(out.proba)
    inp = read_run(ctx.run_dir)
    stack_tab = None
    if inp.stack.tabular_names:
        scols = [cohort.tabular_names.index(n) for n in inp.stack.tabular_names]
        stack_tab = cohort.tabular[test][:, scols].astype(np.float64)
    ref = pipeline_test_predictions(inp, stack_tab, bundle.member_mode)
    order = np.array([row_of[str(r)] for r in out.frame["record"]])
    diff = float(np.max(np.abs(got - ref[order]))) if len(order) else 0.0
    result = {"n_records": len(order), "max_abs_diff": diff, "tolerance": PARITY_TOL,
              "seconds": seconds, "ok": diff <= PARITY_TOL,
              "path": "raw WFDB files -> bundle preprocessing -> members -> stack"}
    write_json(ctx.run_dir / "bundle_parity.json", result)
    if not result["ok"]:
        raise StageError(f"bundle parity failed on the test records: max |bundle - run| = "
                         f"{diff:.3g} > {PARITY_TOL}")
    return result


def run_all(ctx: RunContext, console: Console | None = None,
            threads: int | None = None) -> RunResult:
    """Run (or resume) every stage of the config; returns metrics, bundle and parity.

    ``threads``: torch CPU threads, reset before every stage (default: the available
    CPUs, capped), so a stage never inherits what an earlier one left behind (training
    jobs set their own per-job count, latency measures at one thread)."""
    from ensembler.pipeline.compare import run_compare
    from ensembler.pipeline.stack import run_stacking
    from ensembler.pipeline.train import run_training
    from ensembler.tuning.entries import entries_to_tune

    con = console or Console()
    cfg = ctx.cfg
    bundle_path: Path | None = None
    parity: dict[str, Any] | None = None
    metrics: dict[str, Any] = {}
    to_tune = entries_to_tune(cfg) if cfg.tuning.enabled else []
    stages = ["data + cache", "split"]
    stages += ["tuning"] if to_tune else []
    stages += ["training", "stacking"]
    stages += ["data efficiency"] if cfg.report.data_efficiency else []
    stages += ["comparison"]
    stages += ["export", "predict + parity"] if cfg.export.enabled else []
    stage = StageRunner(stages, con, threads)
    con.print(f"Run [bold]{cfg.name}[/bold] in {ctx.run_dir}: " + " → ".join(stages))
    con.print(f"[dim]per-epoch training lines: {LogFile.training(ctx.run_dir).path}[/dim]")
    cohort = stage("data + cache", lambda: ctx.cohort)
    con.print(f"{len(cohort)} ECGs, {len(np.unique(cohort.patient_id))} patients, "
              f"classes {cohort.class_names}")
    split = stage("split", lambda: ctx.split)
    con.print(f"dev {int((split.fold >= 0).sum())} ECGs in {split.n_folds} folds, "
              f"test {int((split.fold == -1).sum())} ECGs")
    if to_tune:
        stage("tuning", lambda: _tune(ctx, to_tune))
    stage("training", lambda: run_training(ctx))
    stage("stacking", lambda: run_stacking(ctx))
    if cfg.report.data_efficiency:
        from ensembler.pipeline.efficiency import run_data_efficiency

        stage("data efficiency", lambda: run_data_efficiency(ctx))
    metrics = stage("comparison", lambda: run_compare(ctx))
    if cfg.export.enabled:
        bundle_path = stage("export", lambda: _export(ctx))
        parity = stage("predict + parity", lambda: predict_parity(ctx, bundle_path))
    seconds = stage.seconds
    write_json(ctx.run_dir / "run_seconds.json", seconds)
    return RunResult(metrics=metrics, bundle=bundle_path, parity=parity, seconds=seconds)


def _tune(ctx: RunContext, names: list[str]) -> None:
    from ensembler.tuning.results import write_fairness_report
    from ensembler.tuning.study import tune_entry

    for name in names:
        tune_entry(ctx.cfg, ctx.cohort, ctx.split, ctx.run_dir, name,
                   log=LogFile(ctx.run_dir / "logs" / "tuning.log"))
    write_fairness_report(ctx.cfg, ctx.run_dir)


def _export(ctx: RunContext) -> Path:
    from ensembler.bundle.export import export_bundle
    from ensembler.bundle.integrity import read_verified

    out = ctx.run_dir / "bundle"
    stage_key = (ctx.run_dir / "report" / "stage.json").read_text()
    marker = ctx.run_dir / "bundle_stage.json"
    if out.is_dir() and marker.is_file() and marker.read_text() == stage_key:
        read_verified(out)  # still intact?
        return out
    res = export_bundle(ctx.run_dir, out, cohort=ctx.cohort)
    marker.write_text(stage_key)
    return res.path
