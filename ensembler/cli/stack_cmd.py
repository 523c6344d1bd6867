"""``ensembler stack``: the joint stacking study on the members' OOF predictions."""

from __future__ import annotations

from pathlib import Path

import click

from ensembler.cli.options import config_argument, load, open_run


@click.command("stack")
@config_argument
@click.option("--trials", type=int, default=None, help="Trials of each stacking study.")
def stack_cmd(config: Path, profile: str | None, data_dir: Path | None, run_dir: Path | None,
              trials: int | None) -> None:
    """Fit the fixed stacks and tune logistic, LightGBM and the joint stack (dev OOF only)."""
    from rich.console import Console
    from rich.table import Table

    from ensembler.pipeline.stack import load_fitted, run_stacking

    cfg = load(config, profile, data_dir)
    ctx = open_run(cfg, run_dir)
    res = run_stacking(ctx, trials)
    reused = " — reused" if res.skipped else ""
    table = Table(title=f"Stacks (development, meta-level OOF){reused}")
    for col in ("stack", "learner", "members", "transform", "calibration", "CV AUC"):
        table.add_column(col)
    for name in res.names:
        f = load_fitted(ctx.run_dir, name)
        table.add_row(name, f.spec.learner, str(len(f.spec.members)), f.spec.transform,
                      f.calibration_, f"{f.cv_auc_:.3f}")
    Console().print(table)
    nested = (res.study or {}).get("nested")
    if nested:
        click.echo(f"joint stack: nested-CV estimate {nested['mean']:.3f} ± {nested['sd']:.3f} "
                   "(the inner best is optimistic: it was selected on the same folds)")
    click.echo(f"selected for export: {res.selected}")
