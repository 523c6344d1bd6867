"""``ensembler explain BUNDLE RECORD... [--class C] [--out DIR]`` (registered on ``cli``)."""

from __future__ import annotations

from pathlib import Path

import click

from ensembler.cli.main import cli
from ensembler.cli.options import apply_threads, threads_option


@cli.command("explain")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--class", "class_name", default=None,
              help="Class to explain (required when the bundle predicts several).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("explain"),
              show_default=True, help="Folder for <record>_<class>.png and .json.")
@click.option("--method", type=click.Choice(["ig", "gxi"]), default="ig", show_default=True,
              help="ig: Integrated Gradients (displayed ECGs); gxi: gradient x input.")
@click.option("--steps", type=click.IntRange(4, 512), default=32, show_default=True,
              help="Integrated Gradients steps.")
@click.option("--summary", "summary", type=click.IntRange(1, 10_000), default=None,
              metavar="N", help="Instead of per-record figures: per-lead importance over the "
              "first N input records by id (use --method gxi), written as summary_<class>.json.")
@threads_option
@click.option("--allow-arch", "allow_arch", multiple=True, metavar="MODULE:CALLABLE",
              help="Trust this user architecture (repeatable).")
def explain_cmd(bundle: Path, inputs: tuple[str, ...], class_name: str | None, out: Path,
                method: str, steps: int, summary: int | None, threads: int | None,
                allow_arch: tuple[str, ...]) -> None:
    """Attribution maps of WFDB records through the bundle, read exactly as predict reads them."""
    if out.exists() and not out.is_dir():
        raise click.BadParameter(f"{out} is a file; give a folder", param_hint="--out")
    apply_threads(threads)
    from ensembler.bundle import load_bundle
    from ensembler.explain import explain_inputs, write_explanations

    b = load_bundle(bundle, allow_arch=allow_arch)
    exps = explain_inputs(b, list(inputs), class_name, method, steps, max_records=summary)
    if summary is not None:
        from ensembler.explain.summary import write_summary

        path, table = write_summary(exps, out, b.lead_names, method, summary)
        click.echo(f"per-lead importance ({method}, {len(exps)} records, relative to the "
                   f"largest lead per row) -> {path}\n{table}")
        return
    pngs = write_explanations(exps, out, b.lead_names, b.preprocessing.fs, method, steps)
    for exp, png in zip(exps, pngs, strict=True):
        top = max(exp.shares, key=lambda k: abs(exp.shares[k]))
        click.echo(f"{exp.record}: {exp.class_name} p = {exp.probability:.3f}; largest share "
                   f"{top} ({exp.shares[top]:+.3f} {exp.scale}) -> {png}")
