"""``ensembler run``: every stage in order, each skipped when its output is current.

data (synthesised when the config says so) -> cache -> split -> tuning (optional)
-> OOF training -> member-mode evidence (optional; development data only) -> stacking
study -> diversity panel -> comparison report -> bundle export -> predict of the exported
bundle on the test records' WFDB files, with a parity check against the pipeline's own
stacked test predictions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from ensembler.pipeline.context import RunContext
from ensembler.pipeline.stage import Stage
from ensembler.report.schema import Metrics
from ensembler.utils.atomic import write_json
from ensembler.utils.progress import LogFile, StageRunner


@dataclass
class RunResult:
    metrics: Metrics
    bundle: Path | None
    parity: dict[str, Any] | None
    seconds: dict[str, float] = field(default_factory=dict)


def predict_parity(ctx: RunContext, bundle_path: Path) -> dict[str, Any]:
    """Predict the bundle from every test record's raw WFDB file; compare with the run
    (:func:`ensembler.bundle.parity.run_parity`)."""
    from ensembler.bundle.parity import run_parity

    return run_parity(ctx.run_dir, ctx.cohort, ctx.split.fold, bundle_path)


def run_all(ctx: RunContext, console: Console | None = None,
            threads: int | None = None) -> RunResult:
    """Run (or resume) every stage of the config; returns metrics, bundle and parity.

    ``threads``: torch CPU threads, reset before every stage (default: the available
    CPUs, capped), so a stage never inherits what an earlier one left behind (training
    jobs set their own per-job count, latency measures at one thread)."""
    con = console or Console()
    stages = run_stages(ctx, con)
    runner = StageRunner([name for name, _ in stages], con, threads)
    con.print(f"Run [bold]{ctx.cfg.name}[/bold] in {ctx.run_dir}: "
              + " → ".join(runner.names))
    con.print(f"[dim]per-epoch training lines: {LogFile.training(ctx.run_dir).path}[/dim]")
    out = {name: runner(name, fn) for name, fn in stages}
    write_json(ctx.run_dir / "run_seconds.json", runner.seconds)
    return RunResult(metrics=out["comparison"], bundle=out.get("export"),
                     parity=out.get("predict + parity"), seconds=runner.seconds)


def run_stages(ctx: RunContext, con: Console) -> list[tuple[str, Callable[[], Any]]]:
    """The config's stages in order, each a name and what runs (or reloads) it."""
    from ensembler.pipeline.compare import run_compare
    from ensembler.pipeline.distill import run_distill
    from ensembler.pipeline.diversity import run_diversity
    from ensembler.pipeline.efficiency import run_data_efficiency
    from ensembler.pipeline.mode_evidence import run_mode_evidence
    from ensembler.pipeline.stack import run_stacking
    from ensembler.pipeline.train import run_training
    from ensembler.tuning.entries import entries_to_tune

    cfg = ctx.cfg
    to_tune = entries_to_tune(cfg) if cfg.tuning.enabled else []

    def cohort() -> Any:
        c = ctx.cohort
        con.print(f"{len(c)} ECGs, {len(np.unique(c.patient_id))} patients, "
                  f"classes {c.class_names}")
        return c

    def split() -> Any:
        sp = ctx.split
        con.print(f"dev {int((sp.fold >= 0).sum())} ECGs in {sp.n_folds} folds, "
                  f"test {int((sp.fold == -1).sum())} ECGs")
        return sp

    stages: list[tuple[str, Callable[[], Any]]] = [("data + cache", cohort), ("split", split)]
    stages += [("tuning", lambda: _tune(ctx, to_tune))] if to_tune else []
    stages += [("training", lambda: run_training(ctx))]
    stages += ([("member mode evidence", lambda: run_mode_evidence(ctx))]
               if cfg.export.mode_evidence else [])
    stages += [("stacking", lambda: run_stacking(ctx))]
    stages += [("diversity", lambda: run_diversity(ctx))] if cfg.report.diversity.enabled else []
    stages += [("distillation", lambda: run_distill(ctx))] if cfg.distill is not None else []
    stages += ([("data efficiency", lambda: run_data_efficiency(ctx))]
               if cfg.report.data_efficiency else [])
    stages += [("comparison", lambda: run_compare(ctx))]
    if cfg.export.enabled:
        stages += [("export", lambda: _export(ctx)),
                   ("predict + parity", lambda: predict_parity(ctx, ctx.run_dir / "bundle"))]
    return stages


def _tune(ctx: RunContext, names: list[str]) -> None:
    from ensembler.tuning.results import write_fairness_report
    from ensembler.tuning.stage import tune_entries

    tune_entries(ctx.cfg, ctx.cohort, ctx.split, ctx.run_dir, names,
                 log=LogFile(ctx.run_dir / "logs" / "tuning.log"))
    write_fairness_report(ctx.cfg, ctx.run_dir)


def export_stage(ctx: RunContext) -> Stage[Path]:
    """The export stage: keyed by the comparison stage (the report the bundle's card and
    headline come from), the export config and the member-mode evidence its reason cites
    (when there is any); a current bundle is re-verified."""
    from ensembler.bundle.export import export_bundle
    from ensembler.bundle.integrity import read_verified
    from ensembler.pipeline.compare import evidence_input

    out = ctx.run_dir / "bundle"

    def load(_: dict[str, Any]) -> Path:
        read_verified(out)  # still intact?
        return out

    return Stage("export", ctx.run_dir / "bundle_stage.json",
                 inputs={"comparison": Stage.read_key(ctx.run_dir / "report" / "stage.json"),
                         "export config": ctx.cfg.export, **evidence_input(ctx.run_dir)},
                 run=lambda: (export_bundle(ctx.run_dir, out, cohort=ctx.cohort).path, {}),
                 load=load, outputs=[out], say=ctx.say)


def _export(ctx: RunContext) -> Path:
    return export_stage(ctx).execute()
