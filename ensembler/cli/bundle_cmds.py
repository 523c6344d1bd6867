"""``ensembler export|verify|inspect|predict|evaluate`` (registered on ``cli``).

Heavy imports (torch, the bundle package) happen inside the commands so that
``ensembler --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ensembler.cli.main import cli


@cli.command("export")
@click.argument("target", type=click.Path(exists=True, path_type=Path))
@click.option("--stack", default=None, help="Stack to ship (default: stack/selected.json).")
@click.option("--members", type=click.Choice(["auto", "fold-average", "refit-full"]),
              default=None, help="Member mode (default: export.members; auto = fold-average).")
@click.option("--onnx/--no-onnx", default=None, help="Also export every member to ONNX.")
@click.option("--zip/--no-zip", "as_zip", default=None, help="Also write <bundle>.zip.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Bundle folder (default: RUN_DIR/bundle).")
def export_cmd(target: Path, stack: str | None, members: str | None, onnx: bool | None,
               as_zip: bool | None, out: Path | None) -> None:
    """Freeze the run's chosen stack into a verifiable bundle (TARGET: run dir or config)."""
    from ensembler.bundle import export_bundle

    res = export_bundle(target, out, stack=stack, members=members, onnx=onnx, zip=as_zip)
    man = res.manifest
    click.echo(f"bundle written to {res.path} ({len(man['files'])} files, members "
               f"{man['members']['mode']}, parity max abs diff "
               f"{man['parity'].get('max_abs_diff')})")
    if res.zip_path:
        click.echo(f"zip written to {res.zip_path}")
    click.echo(f"manifest digest {man['manifest_digest']}")


@cli.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--expect-digest", default=None, help="Manifest digest published by the exporter.")
def verify_cmd(bundle: Path, expect_digest: str | None) -> None:
    """Check format version, manifest digest, every SHA-256 and that no file is unlisted."""
    from ensembler.bundle import read_verified

    vb = read_verified(bundle, expect_digest)
    m = vb.manifest
    click.echo(f"OK {bundle}: format {m['format_version']}, {len(m['files'])} files verified")
    click.echo(f"  digest   {vb.digest}")
    click.echo(f"  created  {m.get('created_at')} with ensembler "
               f"{m.get('versions', {}).get('ensembler')}")
    click.echo(f"  task     {m['task']['type']} {m['task']['class_names']}")
    click.echo(f"  stack    {m['stack']['label']} ({m['members']['mode']})")


def test_auc_line(metrics: dict[str, Any]) -> str:
    """The manifest's headline test AUC as one readable line (point, 95% CI, test size)."""
    auc = (metrics.get("stack") or {}).get("test_auc") or {}
    if metrics.get("status") != "evaluated" or auc.get("point") is None:
        why = metrics.get("reason") or metrics.get("status") or "no metrics in the manifest"
        return f"test AUC: not evaluated ({why})"
    ci = (f" (95% CI {float(auc['lo']):.3f}-{float(auc['hi']):.3f})"
          if auc.get("lo") is not None and auc.get("hi") is not None else "")
    n = metrics.get("n_test")
    on = f" on {n} held-out ECGs" if n is not None else " on the held-out test set"
    return f"test AUC (macro): {float(auc['point']):.3f}{ci}{on}"


@cli.command("inspect")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--card/--no-card", default=True, help="Print MODEL_CARD.md.")
def inspect_cmd(bundle: Path, card: bool) -> None:
    """Show members, thresholds, metrics and the model card of a verified bundle."""
    from rich.console import Console
    from rich.table import Table

    from ensembler.bundle import read_verified

    vb = read_verified(bundle)
    m = vb.manifest
    console = Console()
    table = Table(title=f"{m['stack']['label']} — members ({m['members']['mode']})")
    for col in ("member", "arch", "fusion", "networks", "params", "window"):
        table.add_column(col)
    for e in m["members"]["list"]:
        table.add_row(e["name"], e["arch"], e["fusion"], str(len(e["models"])),
                      f"{e['n_params']:,}", str(e["window"]))
    console.print(table)
    click.echo("thresholds: " + ", ".join(
        f"{c}={t}" for c, t in zip(m["task"]["class_names"], m["operating"]["thresholds"],
                                   strict=True)))
    click.echo(test_auc_line(m.get("metrics") or {}))
    if card:
        click.echo("")
        click.echo(vb.text("MODEL_CARD.md"))


@cli.command("predict")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("preds.csv"),
              show_default=True, help="Output CSV.")
@click.option("--skip-bad", is_flag=True, help="List unreadable records and score the rest.")
@click.option("--backend", type=click.Choice(["torch", "onnx"]), default="torch",
              show_default=True)
def predict_cmd(bundle: Path, inputs: tuple[str, ...], out: Path, skip_bad: bool,
                backend: str) -> None:
    """Score WFDB records, folders or a CSV manifest; one output row per record."""
    if out.is_dir():
        raise click.BadParameter(f"{out} is a folder; give the CSV file to write, e.g. "
                                 f"{out / 'preds.csv'}", param_hint="--out")
    from ensembler.bundle import load_bundle, predict_inputs
    from ensembler.utils.atomic import write_text

    b = load_bundle(bundle, backend=backend)
    res = predict_inputs(b, list(inputs), skip_bad=skip_bad)
    write_text(out, res.frame.to_csv(index=False))
    click.echo(f"{len(res.frame)} record(s) scored -> {out}")
    if res.missing_tabular:
        click.echo(f"note: no values given for tabular input(s) {res.missing_tabular}; "
                   "scored as missing", err=True)
    if res.failed:
        click.echo(f"{len(res.failed)} record(s) skipped:", err=True)
        for rec, why in res.failed:
            click.echo(f"  {rec}: {why}", err=True)
        sys.exit(1)


@cli.command("evaluate")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=Path("validation"),
              show_default=True, help="Report base name (.md and .json are written).")
@click.option("--skip-bad", is_flag=True, help="List unreadable records and score the rest.")
@click.option("--n-bootstrap", type=int, default=1000, show_default=True)
@click.option("--subgroup", "subgroups", multiple=True,
              help="Subgroup column (repeatable; default: the bundle's subgroup columns).")
def evaluate_cmd(bundle: Path, manifest: Path, out: Path, skip_bad: bool, n_bootstrap: int,
                 subgroups: tuple[str, ...]) -> None:
    """External validation on a labelled manifest at the bundle's fixed thresholds."""
    from ensembler.bundle import evaluate_bundle, load_bundle
    from ensembler.bundle.evaluate import write_report

    b = load_bundle(bundle)
    report = evaluate_bundle(b, manifest, skip_bad=skip_bad, n_boot=n_bootstrap,
                             subgroups=list(subgroups) or None)
    md, js = write_report(report, out)
    a = report["auc"]["macro"]
    click.echo(f"macro AUC {a['point']:.3f} (95% CI {a['lo']:.3f}-{a['hi']:.3f}) on "
               f"{report['data']['n_records']} records -> {md}, {js}")
    if report["data"]["failed"]:
        click.echo(f"{len(report['data']['failed'])} record(s) skipped (see {md})", err=True)
        sys.exit(1)
