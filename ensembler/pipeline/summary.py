"""The short end-of-run summary: best single vs the shipped stack, with CIs."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from ensembler.report.schema import CI, DeltaCI, LeaderboardRow, Metrics


def _ci(d: CI | None) -> str:
    if d is None or d.point is None:
        return "n/a"
    if d.lo is None or d.hi is None:
        return f"{d.point:.3f}"
    return f"{d.point:.3f} [{d.lo:.3f}, {d.hi:.3f}]"


def _lat(row: LeaderboardRow) -> str:
    one = row.latency(1)
    return "n/a" if not one else f"{one.p50_ms:.1f} ms"


def _delta(d: DeltaCI | None) -> str:
    if d is None or d.delta is None or d.lo is None or d.hi is None:
        return "—"
    return f"{d.delta:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}]"


def wide_console(quiet: bool = False) -> Console:
    """A console wide enough for the leaderboard, also when output goes to a file;
    ``quiet`` prints nothing."""
    import sys

    return Console(quiet=quiet) if sys.stdout.isatty() else Console(width=140, quiet=quiet)


def print_summary(metrics: Metrics, run_dir: Path, bundle: Path | None = None,
                  console: Console | None = None) -> None:
    """Leaderboard excerpt, the primary comparison, which read of the test set this is
    (the test-read ledger) and where the report/bundle are."""
    con = console if console is not None else wide_console()
    table = Table(title="Test set (read after every choice) — AUC with 95% patient-bootstrap CI")
    for col in ("model", "kind", "test AUC [95% CI]", "Δ vs best_single [CI]", "p",
                "latency (batch 1)", "members"):
        table.add_column(col)
    for r in metrics.leaderboard:
        base = r.name == metrics.baseline
        d = r.delta_vs_baseline
        p = d.p_value if d else None
        table.add_row(r.name, r.kind, _ci(r.test_auc), "—" if base else _delta(d),
                      "" if p is None or base else f"{p:.3f}", _lat(r), str(r.n_members))
    con.print(table)
    prim = metrics.primary
    if prim:
        con.print(
            f"Primary comparison (named in advance): {prim.a} − {prim.b} = "
            f"{_n(prim.delta):+.3f} [95% CI {_n(prim.lo):+.3f}, {_n(prim.hi):+.3f}], "
            f"p = {_n(prim.p_value):.3f} (paired patient-cluster bootstrap)")
    if metrics.test_set_reads.ledger is not None:  # which read of this test set, across runs
        con.print(metrics.test_set_reads.ledger.sentence)
    if metrics.oracle_auc is not None:
        con.print(f"Oracle AUC of the planted risk on the test set: {metrics.oracle_auc:.3f}")
    con.print(f"Report: {run_dir / 'report' / 'report.html'}")
    if bundle is not None:
        con.print(f"Bundle: {bundle}")


def _n(x: float | None) -> float:
    return float("nan") if x is None else x
