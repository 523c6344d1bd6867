"""``ensembler tune``: one Optuna study per architecture, equal budget, the schedule step,
fairness report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ensembler.cli.options import config_argument, load, open_run


@click.command("tune")
@config_argument
@click.option("--arch", "archs", multiple=True,
              help="Model entry or feature member to tune (repeatable or comma-separated; "
                   "default: tuning.archs, else every entry).")
@click.option("--trials", type=click.IntRange(min=1), default=None,
              help="Budget: trials per architecture (overrides tuning.trials/seconds).")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Budget: trial compute seconds per architecture.")
@click.option("--storage", default=None,
              help="Optuna storage URL, e.g. postgresql://user:pw@host/db "
                   "(default: tuning.storage, else sqlite <run_dir>/hpo/optuna.db).")
@click.option("--study", "study_prefix", default=None,
              help="Study name prefix; studies are <prefix>-<entry> (default: "
                   "tuning.study_prefix).")
@click.option("--worker", type=click.IntRange(min=0), default=0,
              help="Index of this worker when several share a study (varies the sampler seed).")
@click.option("--quiet", is_flag=True, help="No per-epoch log lines.")
def tune_cmd(config: Path, profile: str | None, data_dir: Path | None, run_dir: Path | None,
             archs: tuple[str, ...], trials: int | None, seconds: float | None,
             storage: str | None, study_prefix: str | None, worker: int, quiet: bool) -> None:
    """Tune every architecture with the same budget, then (tuning.schedule) choose its
    epochs on the tuning split; write hpo/fairness.{json,png}."""
    import optuna

    from ensembler.errors import ConfigError
    from ensembler.tuning.entries import entries_to_tune, refuse_budget_without_study
    from ensembler.tuning.results import (
        budget_sentence,
        fairness_table,
        write_fairness_report,
    )
    from ensembler.tuning.stage import tune_entries

    if trials is not None and seconds is not None:
        raise click.UsageError("give --trials or --seconds, not both")
    cfg = load(config, profile, data_dir)
    requested = [a.strip() for arg in archs for a in arg.split(",") if a.strip()]
    names = entries_to_tune(cfg, requested)
    if not names:
        raise click.UsageError(f"{config}: no model entries to tune (models: is empty)")
    try:  # before the run directory is opened
        refuse_budget_without_study(cfg, names, trials, seconds)
    except ConfigError as exc:
        raise click.UsageError(f"{config}: {exc}") from None
    # shared: several workers may tune one study in one run directory (docs/scaling.md)
    ctx = open_run(cfg, run_dir, progress=not quiet, shared=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for done in tune_entries(cfg, ctx.cohort, ctx.split, ctx.run_dir, names, storage=storage,
                             study_prefix=study_prefix, trials=trials, seconds=seconds,
                             worker=worker, log=None if quiet else click.echo):
        if done.study is not None:
            out = done.study
            click.echo(f"{out.study_name}: {out.ran} trial(s) run here, {out.counted} "
                       f"counted, best AUC {out.best_value}")
        if done.schedule is not None:
            click.echo(f"{done.entry} schedule: {done.schedule.summary()}")
        elif done.note:
            click.echo(f"{done.entry} {done.note}")
    paths = write_fairness_report(cfg, ctx.run_dir, storage, study_prefix)
    df = fairness_table(cfg, ctx.run_dir, storage, study_prefix)
    _print_budget_table(df)
    click.echo(budget_sentence(df))
    click.echo(f"fairness report: {paths['json']} {paths['png']}")


def _print_budget_table(df: Any) -> None:
    """The fairness table as the terminal shows it: budget, trials, epochs, seconds."""
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Tuning budget per architecture (tuning AUC: development data)")
    for col in ("arch", "budget", "complete", "pruned", "failed", "best AUC", "epochs",
                "compute s", "CPU s"):
        table.add_column(col)
    for rec in df.to_dict(orient="records"):
        best = rec["best_auc"]
        epochs = rec["schedule_epochs"]
        scheduled = epochs is not None and not pd.isna(epochs)
        budget = (f"{rec['budget']} {rec['budget_kind']}" if rec["tuned"]
                  else "schedule only" if scheduled else "not tuned")
        table.add_row(str(rec["arch"]), budget,
                      str(rec["complete"]), str(rec["pruned"]), str(rec["failed"]),
                      "-" if best is None else f"{float(best):.3f}",
                      str(int(epochs)) if scheduled else "-",
                      f"{float(rec['compute_seconds']):.0f}",
                      f"{float(rec['cpu_seconds']):.0f}")
    Console().print(table)
