"""``ensembler distill``: one student network on a stack's meta-level OOF."""

from __future__ import annotations

from pathlib import Path

import click

from ensembler.cli.options import config_argument, load, open_run


@click.command("distill")
@config_argument
@click.option("--student", default=None,
              help="Registry architecture or models[] entry (default: distill.student, "
                   "else the best single member's entry).")
@click.option("--stack", default=None,
              help="Teacher stack (default: distill.stack, else the shipped stack).")
def distill_cmd(config: Path, profile: str | None, data_dir: Path | None,
                run_dir: Path | None, student: str | None, stack: str | None) -> None:
    """Train one student on the stack's meta-level OOF (fold students + single student),
    and its hard-label twin when no member is one (distill.hard_twin)."""
    from ensembler.pipeline.distill import run_distill
    from ensembler.training.distill import OPTIMISTIC, SingleStudent
    from ensembler.training.metrics import macro_auc

    cfg = load(config, profile, data_dir)
    ctx = open_run(cfg, run_dir)
    res = run_distill(ctx, student, stack)
    p = res.predictions
    y_dev = ctx.cohort.labels[ctx.split.fold >= 0]
    dev = ("no fold students, no development AUC" if isinstance(p, SingleStudent)
           else f"development AUC {macro_auc(y_dev, p.oof):.3f} ({OPTIMISTIC})")
    click.echo(f"{res.label}: targets = meta-level OOF of {res.stack}; {dev}; "
               "scored on the test set by `ensembler compare`")
    for row, ref in res.twins.items():
        click.echo(f"{row}: hard-label twin {ref.row or '-'} ({ref.source})")
