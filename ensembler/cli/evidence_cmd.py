"""``ensembler evidence``: the member-mode evidence, on development data only."""

from __future__ import annotations

from pathlib import Path

import click

from ensembler.cli.options import config_argument, load, open_run, quiet_option


@click.command("evidence")
@config_argument
@click.option("--members", default=None,
              help="Comma-separated network or feature members (default: export.mode_evidence).")
@quiet_option
def evidence_cmd(config: Path, profile: str | None, data_dir: Path | None,
                 run_dir: Path | None, members: str | None, quiet: bool) -> None:
    """Retrain each member's fold models on shares of their training patients and write the
    development OOF AUC curve the bundle's member mode cites
    (efficiency/member_mode_evidence.csv). Reads no test row; retrains no existing member."""
    from ensembler.errors import ConfigError
    from ensembler.pipeline.mode_evidence import FIELD, run_mode_evidence
    from ensembler.report.mode_evidence import CSV

    cfg = load(config, profile, data_dir)
    names = [m.strip() for m in members.split(",") if m.strip()] if members else None
    if not names and not cfg.export.mode_evidence:
        raise ConfigError(f"{FIELD}: empty and no --members given; name the network or "
                          "feature members to measure")
    ctx = open_run(cfg, run_dir, progress=not quiet)
    ev = run_mode_evidence(ctx, names, "--members" if names else FIELD)
    assert ev is not None  # members were named
    for m in ev.members:
        curve = ", ".join(f"{p.fraction:.0%} {p.oof_auc:.3f} [{p.oof_auc_lo:.3f}, "
                          f"{p.oof_auc_hi:.3f}]" for p in ev.curve(m))
        click.echo(f"{m}: development OOF AUC at shares of each fold's training patients: "
                   f"{curve}")
    click.echo(ev.summary() + ".")
    click.echo(f"written: {ctx.run_dir / CSV} and {(ctx.run_dir / CSV).with_suffix('.png')}; "
               "`ensembler export` cites it in the member mode's reason")
