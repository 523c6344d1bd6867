"""The comparison report: leaderboard, metrics.json, report.md and self-contained report.html.

The caller (``ensembler compare``) loads predictions, latencies and curves from
the run directory into a :class:`ComparisonInput` and calls :func:`build_report`.
"""

from __future__ import annotations

from ensembler.report.builder import build_report, write_report_dir
from ensembler.report.inputs import KINDS, ComparisonInput, LeaderboardEntry
from ensembler.report.metrics import SCHEMA_VERSION, compute_metrics

__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "ComparisonInput",
    "LeaderboardEntry",
    "build_report",
    "compute_metrics",
    "write_report_dir",
]
