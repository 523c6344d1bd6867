"""``ensembler synth``, ``ensembler cache`` and ``ensembler split`` (registered on ``cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ensembler.cli.main import cli
from ensembler.cli.options import config_argument, load, open_run

if TYPE_CHECKING:
    from ensembler.config import RunConfig


def _config(path: str | None) -> RunConfig:
    from ensembler.config import RunConfig, load_config

    return load_config(path) if path else RunConfig()


@cli.command("synth")
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--out", "out", type=click.Path(file_okay=False), default="synthetic",
              show_default=True, help="Folder to create (must not exist).")
@click.option("--n-patients", type=int, default=None, help="Override data.synthetic.n_patients.")
@click.option("--seed", type=int, default=None, help="Override the synthetic seed.")
def synth(config: str | None, out: str, n_patients: int | None, seed: int | None) -> None:
    """Write the synthetic cohort as WFDB records + manifest.csv + oracle.json."""
    from ensembler.data.load import synthetic_seed
    from ensembler.data.synth.writer import write_synthetic

    cfg = _config(config)
    syn = cfg.data.synthetic.model_copy()
    if n_patients is not None:
        syn = syn.model_validate({**syn.model_dump(), "n_patients": n_patients})
    s = synthetic_seed(cfg) if seed is None else seed
    summary = write_synthetic(syn, s, Path(out))
    click.echo(f"wrote {summary['n_records']} ECGs of {summary['n_patients']} patients to {out}")
    click.echo(f"  dev records {summary['n_dev_records']}, test records "
               f"{summary['n_test_records']}, positives {summary['positives']}")
    click.echo(f"  oracle AUC dev {summary['oracle_auc_dev']}, test {summary['oracle_auc_test']}")


@cli.command("cache")
@config_argument
def cache(config: Path, profile: str | None, data_dir: Path | None,
          run_dir: Path | None) -> None:
    """Build (or reuse) the preprocessed cache and print a summary."""
    import json

    import numpy as np

    from ensembler.data.load import cache_dir_of

    ctx = open_run(load(config, profile, data_dir), run_dir)
    cohort = ctx.cohort
    folder = cache_dir_of(ctx.cfg, ctx.run_dir / "cohort")
    info = json.loads((folder / "info.json").read_text())
    click.echo(f"cache {folder}")
    click.echo(f"  records {len(cohort)}, patients {len(np.unique(cohort.patient_id))}, "
               f"signals {tuple(cohort.signals.shape)} at {cohort.fs:g} Hz")
    for name, count in zip(cohort.class_names, cohort.labels.sum(axis=0), strict=True):
        click.echo(f"  {name}: {int(count)}")
    click.echo(f"  skipped bad records: {info['n_skipped_bad']}"
               + (f" (see {folder / 'skipped.csv'})" if info["n_skipped_bad"] else ""))
    if "rows_skipped_missing_files" in info:
        click.echo(f"  CSV rows without record files: {info['rows_skipped_missing_files']}")
    if "oracle_auc_dev" in info:
        click.echo(f"  oracle AUC dev {info['oracle_auc_dev']}, test {info['oracle_auc_test']}")


@cli.command("split")
@config_argument
def split(config: Path, profile: str | None, data_dir: Path | None,
          run_dir: Path | None) -> None:
    """Compute the patient-grouped folds, check duplicates, write split.json in the run dir."""
    import numpy as np

    ctx = open_run(load(config, profile, data_dir), run_dir)
    cohort = ctx.cohort
    sp = ctx.split
    dups = ctx.check_duplicates(sp.fold)
    click.echo(f"wrote {ctx.run_dir / 'split.json'} (fingerprint {sp.fingerprint})")
    for f in [*range(sp.n_folds), -1]:
        idx = sp.fold == f
        if idx.any():
            pos = cohort.labels[idx].sum(axis=0).tolist()
            click.echo(f"  {'test' if f == -1 else f'fold {f}'}: {int(idx.sum())} records, "
                       f"{len(np.unique(cohort.patient_id[idx]))} patients, positives {pos}")
    if dups:
        click.echo(f"  warning: {len(dups)} duplicate recording pair(s) across folds "
                   f"(listed in {ctx.run_dir / 'duplicates.json'})")
