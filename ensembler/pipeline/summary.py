"""The short end-of-run summary: best single vs the shipped stack, with CIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def _ci(d: dict[str, Any] | None) -> str:
    if not d or d.get("point") is None:
        return "n/a"
    lo, hi = d.get("lo"), d.get("hi")
    if lo is None or hi is None:
        return f"{d['point']:.3f}"
    return f"{d['point']:.3f} [{lo:.3f}, {hi:.3f}]"


def _lat(row: dict[str, Any]) -> str:
    lat = row.get("latency_ms") or {}
    one = lat.get("1")
    return "n/a" if not one else f"{one['p50_ms']:.1f} ms"


def wide_console(quiet: bool = False) -> Console:
    """A console wide enough for the leaderboard, also when output goes to a file;
    ``quiet`` prints nothing."""
    import sys

    return Console(quiet=quiet) if sys.stdout.isatty() else Console(width=140, quiet=quiet)


def print_summary(metrics: dict[str, Any], run_dir: Path, bundle: Path | None = None,
                  console: Console | None = None) -> None:
    """Leaderboard excerpt, the primary comparison and where the report/bundle are."""
    con = console if console is not None else wide_console()
    rows = {r["name"]: r for r in metrics.get("leaderboard", [])}
    table = Table(title="Test set (read after every choice) — AUC with 95% patient-bootstrap CI")
    for col in ("model", "kind", "test AUC [95% CI]", "Δ vs best_single [CI]", "p",
                "latency (batch 1)", "members"):
        table.add_column(col)
    for name, r in rows.items():
        d = r.get("delta_vs_baseline") or {}
        delta = ("—" if name == metrics.get("baseline") or d.get("delta") is None
                 else f"{d['delta']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]")
        p = d.get("p_value")
        table.add_row(name, r["kind"], _ci(r.get("test_auc")), delta,
                      "" if p is None or name == metrics.get("baseline") else f"{p:.3f}",
                      _lat(r), str(r.get("n_members", "")))
    con.print(table)
    prim = metrics.get("primary")
    if prim:
        con.print(
            f"Primary comparison (named in advance): {prim['a']} − {prim['b']} = "
            f"{prim['delta']:+.3f} [95% CI {prim['lo']:+.3f}, {prim['hi']:+.3f}], "
            f"p = {prim['p_value']:.3f} (paired patient-cluster bootstrap)")
    if metrics.get("oracle_auc") is not None:
        con.print(f"Oracle AUC of the planted risk on the test set: {metrics['oracle_auc']:.3f}")
    con.print(f"Report: {run_dir / 'report' / 'report.html'}")
    if bundle is not None:
        con.print(f"Bundle: {bundle}")
