"""``ensembler run``: the whole pipeline, resumable."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from ensembler.cli.options import config_argument, load, open_run, quiet_option, threads_option


@click.command("run")
@config_argument
@threads_option
@quiet_option
def run_cmd(config: Path, profile: str | None, data_dir: Path | None,
            run_dir: Path | None, threads: int | None, quiet: bool) -> None:
    """Run every stage (data → cache → split → tune → train → stack → compare → export →
    predict with parity); finished stages are reused, interrupted runs resume."""
    import optuna

    from ensembler.pipeline.run import run_all
    from ensembler.pipeline.summary import print_summary
    from ensembler.pipeline.summary import wide_console as make_console

    optuna.logging.set_verbosity(logging.WARNING)
    cfg = load(config, profile, data_dir)
    ctx = open_run(cfg, run_dir, progress=not quiet)
    console = make_console()
    res = run_all(ctx, make_console(quiet=quiet), threads)
    console.rule("[bold]Summary")
    print_summary(res.metrics, ctx.run_dir, res.bundle, console)
    if res.parity:
        console.print(f"Bundle parity on {res.parity['n_records']} test records (from raw WFDB): "
                      f"max |Δ| = {res.parity['max_abs_diff']:.2e} "
                      f"(tolerance {res.parity['tolerance']:.0e})")
    total = sum(res.seconds.values())
    console.print("Stage seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in res.seconds.items())
                  + f"; total {total:.0f}")
