"""``ensembler compare``: the leaderboard and report (the test set is read here, once)."""

from __future__ import annotations

from pathlib import Path

import click

from ensembler.cli.options import config_argument, load, open_run


@click.command("compare")
@config_argument
def compare_cmd(config: Path, profile: str | None, data_dir: Path | None,
                run_dir: Path | None) -> None:
    """Compare every single model, bag and stack on the test set; write report/."""
    from ensembler.pipeline.compare import run_compare
    from ensembler.pipeline.summary import print_summary

    cfg = load(config, profile, data_dir)
    ctx = open_run(cfg, run_dir)
    metrics = run_compare(ctx)
    print_summary(metrics, ctx.run_dir)
