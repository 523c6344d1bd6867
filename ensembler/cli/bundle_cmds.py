"""``ensembler export|verify|inspect|predict|evaluate`` (registered on ``cli``).

Heavy imports (torch, the bundle package) happen inside the commands so that
``ensembler --help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from ensembler.cli.main import cli
from ensembler.cli.options import apply_threads, threads_option
from ensembler.member_modes import MEMBER_MODES

allow_arch_option = click.option(
    "--allow-arch", "--allow-feature-set", "allow_arch", multiple=True,
    metavar="MODULE:CALLABLE",
    help="Trust this user architecture or feature set (repeatable); a bundle naming any "
         "other unregistered one is refused and nothing is imported.")


@cli.command("export")
@click.argument("target", type=click.Path(exists=True, path_type=Path))
@click.option("--stack", default=None, help="Stack to ship (default: stack/selected.json).")
@click.option("--members", type=click.Choice(["auto", *MEMBER_MODES]),
              default=None, help="Member mode (default: export.members; auto = fold-average).")
@click.option("--onnx/--no-onnx", default=None, help="Also export every member to ONNX.")
@click.option("--zip/--no-zip", "as_zip", default=None, help="Also write <bundle>.zip.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Bundle folder (default: RUN_DIR/bundle). An existing bundle is replaced "
                   "atomically; any other non-empty folder is refused.")
@click.option("--force", is_flag=True,
              help="Replace --out (and its .zip) even if it is not a bundle.")
@click.option("--parity/--no-parity", default=None,
              help="Check the bundle on the test records' raw WFDB files (default: when "
                   "they are reachable).")
@threads_option
def export_cmd(target: Path, stack: str | None, members: str | None, onnx: bool | None,
               as_zip: bool | None, out: Path | None, force: bool, parity: bool | None,
               threads: int | None) -> None:
    """Freeze the run's chosen stack into a verifiable bundle (TARGET: run dir or config)."""
    apply_threads(threads)
    from ensembler.bundle import export_bundle

    res = export_bundle(target, out, stack=stack, members=members, onnx=onnx, zip=as_zip,
                        force=force, parity=parity)
    man = res.manifest
    raw = man["parity"]["raw_records"]
    click.echo(f"bundle written to {res.path} ({len(man['files'])} files, members "
               f"{man['members']['mode']}, parity max abs diff "
               f"{man['parity'].get('max_abs_diff')})")
    click.echo(f"raw-record parity: max abs diff {raw['max_abs_diff']:.2e} on "
               f"{raw['n_records']} WFDB records" if raw["ran"]
               else f"raw-record parity not run: {raw['reason']}")
    if res.zip_path:
        click.echo(f"zip written to {res.zip_path}")
    click.echo(f"manifest digest {man['manifest_digest']}")


@cli.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--expect-digest", default=None, help="Manifest digest published by the exporter.")
@allow_arch_option
def verify_cmd(bundle: Path, expect_digest: str | None, allow_arch: tuple[str, ...]) -> None:
    """Check format version, manifest digest, file list and sizes, every SHA-256, each
    member's architecture and every weight file's header against it."""
    from ensembler.bundle.weights import verify_bundle

    vb = verify_bundle(bundle, expect_digest, allow_arch)
    m = vb.manifest
    click.echo(f"OK {bundle}: format {m['format_version']}, {len(m['files'])} files verified")
    click.echo(f"  digest   {vb.digest}")
    click.echo(f"  created  {m.get('created_at')} with ensembler "
               f"{m.get('versions', {}).get('ensembler')}")
    click.echo(f"  task     {m['task']['type']} {m['task']['class_names']}")
    click.echo(f"  stack    {m['stack']['label']} ({m['members']['mode']})")


def test_auc_line(metrics: Mapping[str, Any] | None, where: str = "manifest.json") -> str:
    """The manifest's ``metrics`` block (``where`` names the file) as one readable line:
    the headline test AUC, its 95% CI and the test size."""
    from ensembler.bundle.manifest_metrics import ManifestMetrics

    if not metrics:
        return "test AUC: not evaluated (no metrics in the manifest)"
    m = ManifestMetrics.from_json_dict(metrics, f"{where}: metrics")
    auc = m.stack.test_auc if m.stack else None
    if not m.evaluated or auc is None or auc.point is None:
        return f"test AUC: not evaluated ({m.reason or m.status or 'no metrics in the manifest'})"
    ci = (f" (95% CI {float(auc.lo):.3f}-{float(auc.hi):.3f})"
          if auc.lo is not None and auc.hi is not None else "")
    on = (f" on {m.n_test} held-out ECGs" if m.n_test is not None
          else " on the held-out test set")
    return f"test AUC (macro): {float(auc.point):.3f}{ci}{on}"


@cli.command("inspect")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--card/--no-card", default=True, help="Print MODEL_CARD.md.")
@allow_arch_option
def inspect_cmd(bundle: Path, card: bool, allow_arch: tuple[str, ...]) -> None:
    """Show members, thresholds, metrics and the model card of a verified bundle."""
    from rich.console import Console
    from rich.table import Table

    from ensembler.bundle.weights import verify_bundle

    vb = verify_bundle(bundle, allow_arch=allow_arch, keep=("MODEL_CARD.md",))
    m = vb.manifest
    auc_line = test_auc_line(m.get("metrics"), f"{vb.source}/manifest.json")  # checks it
    console = Console()
    table = Table(title=f"{m['stack']['label']} — members ({m['members']['mode']})")
    for col in ("member", "arch", "fusion", "networks", "params", "window"):
        table.add_column(col)
    for e in m["members"]["list"]:
        arch = e["arch"] or f"features: {e['feature_set']['name']} v{e['feature_set']['version']}"
        table.add_row(e["name"], arch, e["fusion"], str(len(e["models"])),
                      f"{e['n_params']:,}", str(e["window"]))
    console.print(table)
    click.echo("thresholds: " + ", ".join(
        f"{c}={t}" for c, t in zip(m["task"]["class_names"], m["operating"]["thresholds"],
                                   strict=True)))
    click.echo(auc_line)
    if card:
        click.echo("")
        click.echo(vb.text("MODEL_CARD.md"))


def input_options(fn: Any) -> Any:
    """The options predict and evaluate share: missing tabular values, record length."""
    fn = click.option("--pad-short", is_flag=True,
                      help="Zero-pad records shorter than the trained duration (flagged) "
                      "instead of refusing them.")(fn)
    fn = click.option("--sliding-windows", is_flag=True,
                      help="Score records longer than the trained duration over sliding "
                      "windows (flagged; calibrated on the trained duration only).")(fn)
    return click.option("--impute-missing-tabular", "impute", is_flag=True,
                        help="Impute missing tabular inputs with the training folds' fitted "
                        "means (imputed rows are marked) instead of refusing them.")(fn)


@cli.command("predict")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("preds.csv"),
              show_default=True, help="Output CSV (or JSON when it ends in .json).")
@click.option("--skip-bad", is_flag=True, help="List unreadable records and score the rest.")
@click.option("--backend", type=click.Choice(["torch", "onnx"]), default="torch",
              show_default=True)
@input_options
@threads_option
@allow_arch_option
def predict_cmd(bundle: Path, inputs: tuple[str, ...], out: Path, skip_bad: bool,
                backend: str, impute: bool, sliding_windows: bool, pad_short: bool,
                threads: int | None, allow_arch: tuple[str, ...]) -> None:
    """Score WFDB records, folders or a CSV manifest; one output row per record."""
    if out.is_dir():
        raise click.BadParameter(f"{out} is a folder; give the CSV file to write, e.g. "
                                 f"{out / 'preds.csv'}", param_hint="--out")
    from ensembler.bundle import load_bundle, predict_inputs
    from ensembler.bundle.lengths import LengthPolicy
    from ensembler.utils.atomic import write_text

    apply_threads(threads)
    b = load_bundle(bundle, backend=backend, allow_arch=allow_arch)
    res = predict_inputs(b, list(inputs), skip_bad=skip_bad,
                         missing="impute" if impute else "error",
                         policy=LengthPolicy(sliding_windows, pad_short))
    text = res.frame.to_json(orient="records", indent=1) if out.suffix.lower() == ".json" \
        else res.frame.to_csv(index=False)
    write_text(out, text)
    click.echo(f"{len(res.frame)} record(s) scored -> {out}")
    echo_flags(res.frame, b.preprocessing.duration_s, sliding_windows)
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
@input_options
@threads_option
@allow_arch_option
def evaluate_cmd(bundle: Path, manifest: Path, out: Path, skip_bad: bool, n_bootstrap: int,
                 subgroups: tuple[str, ...], impute: bool, sliding_windows: bool,
                 pad_short: bool, threads: int | None, allow_arch: tuple[str, ...]) -> None:
    """External validation on a labelled manifest at the bundle's fixed thresholds."""
    apply_threads(threads)
    from ensembler.bundle import evaluate_bundle, load_bundle
    from ensembler.bundle.evaluate import write_report
    from ensembler.bundle.lengths import LengthPolicy

    b = load_bundle(bundle, allow_arch=allow_arch)
    report = evaluate_bundle(b, manifest, skip_bad=skip_bad, n_boot=n_bootstrap,
                             subgroups=list(subgroups) or None,
                             missing="impute" if impute else "error",
                             policy=LengthPolicy(sliding_windows, pad_short))
    md, js = write_report(report, out)
    a = report["auc"]["macro"]
    click.echo(f"macro AUC {a['point']:.3f} (95% CI {a['lo']:.3f}-{a['hi']:.3f}) on "
               f"{report['data']['n_records']} records -> {md}, {js}")
    fl = report["flags"]
    if fl["counts"]["any"]:
        u = fl["auc_unflagged"]
        click.echo(f"{fl['counts']['any']} record(s) flagged (see {md}); macro AUC without "
                   f"them {'n/a' if not u else format(u['point'], '.3f')}", err=True)
    if report["data"]["failed"]:
        click.echo(f"{len(report['data']['failed'])} record(s) skipped (see {md})", err=True)
        sys.exit(1)


def echo_flags(frame: Any, duration_s: float, sliding_windows: bool) -> None:
    """One stderr line per kind of flagged record (the rows carry the details)."""
    length = frame["length"]
    counts = [
        ((length == "cropped").sum(), f"cropped to their first {duration_s:g} s "
                                      "(column length; --sliding-windows to score all of it)"),
        ((length == "padded").sum(), f"shorter than {duration_s:g} s, zero-padded"),
        (length.str.startswith("sliding").sum(), "scored over sliding windows"),
        ((frame["imputed"] != "").sum(), "with imputed tabular inputs (column imputed)"),
        (frame["poor_quality"].sum(), "with poor signal quality (column quality_note)"),
        (frame["lead_reversal"].sum(), "with likely LA/RA limb-lead reversal"),
    ]
    for n, what in counts:
        if n:
            click.echo(f"flagged: {int(n)} record(s) {what}", err=True)
    if sliding_windows:
        click.echo(f"warning: --sliding-windows averages scores of {duration_s:g} s windows; "
                   f"the calibration and thresholds were fitted on single {duration_s:g} s "
                   "records only", err=True)
