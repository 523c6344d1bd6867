"""``ensembler train``: out-of-fold training of every member."""

from __future__ import annotations

from pathlib import Path

import click

from ensembler.cli.options import config_argument, load, open_run, parse_int_list, quiet_option


@click.command("train")
@config_argument
@click.option("--models", default=None, help="Comma-separated member or entry names.")
@click.option("--folds", default=None, help="Comma-separated fold indices (0-based).")
@quiet_option
def train_cmd(config: Path, profile: str | None, data_dir: Path | None, run_dir: Path | None,
              models: str | None, folds: str | None, quiet: bool) -> None:
    """Train every member on every fold; write predictions/<member>.npz."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from ensembler.pipeline.train import run_training
    from ensembler.training.metrics import macro_auc

    cfg = load(config, profile, data_dir)
    ctx = open_run(cfg, run_dir, progress=not quiet)
    only = [m.strip() for m in models.split(",")] if models else None
    summary = run_training(ctx, only=only, folds=parse_int_list(folds))
    cohort, split = ctx.cohort, ctx.split
    y_dev = cohort.labels[split.fold >= 0]
    # Development numbers only: test AUCs appear in `ensembler compare`, after every choice.
    table = Table(title=f"Members ({summary.jobs_run} jobs run, {summary.jobs_skipped} reused)",
                  caption="Development data only; held-out results come from `ensembler compare`.")
    for col in ("member", "fold AUCs", "OOF AUC", "train s", "params"):
        table.add_column(col)
    for name, p in summary.predictions.items():
        fold_aucs = " ".join(f"{a:.3f}" for a in p.meta.fold_oof_auc if a is not None)
        tuned = " (after tuning)" if p.meta.tuned else ""
        table.add_row(name, fold_aucs, f"{macro_auc(y_dev, p.oof):.3f}{tuned}",
                      f"{np.sum(p.meta.train_seconds):.0f}", f"{p.meta.n_params:,}")
    Console().print(table)
