"""Render the PTB-XL report's Pareto plots from the saved numbers, as an HTML page.

The full PTB-XL run (about 40 min) is not needed: ``bench/results/ptbxl_superdiag.json``
keeps each leaderboard row's test AUC with its CI, latency and parameter count, which
is all the Pareto plots use. The page goes through the report's own figure and table
code, so a browser screenshot of it shows what ``report.html`` shows.

Run: ``.venv/bin/python docs/ptbxl_pareto_page.py OUT.html``, then e.g.
``chromium --headless --no-sandbox --disable-gpu --disable-background-networking
--window-size=1400,1100 --screenshot=docs/pareto_ptbxl.png file://$PWD/OUT.html``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ensembler.report.document import Document, Figure, Paragraph
from ensembler.report.figures import pareto_figure
from ensembler.report.schema import ParetoPoint
from ensembler.report.tables import pareto_key_table
from ensembler.utils.jsonclass import from_json_dict

REPO = Path(__file__).resolve().parents[1]


def page() -> str:
    saved = json.loads((REPO / "bench/results/ptbxl_superdiag.json").read_text())
    rows = [from_json_dict(ParetoPoint, r, f"ptbxl_superdiag.json: leaderboard[{i}]")
            for i, r in enumerate(saved["leaderboard"])]
    doc = Document("PTB-XL superdiagnostic (CPU profile) — Pareto plots")
    doc.add(
        Paragraph(f"Rebuilt from the saved numbers of the run ({len(rows)} leaderboard rows, "
                  f"{saved['n_test']} test ECGs; bench/results/ptbxl_superdiag.json) with the "
                  "report's own figure code. Eight stacks sit within 0.001 AUC and 30 ms of "
                  "each other."),
        Figure("pareto", "Test AUC vs latency and size (Pareto front in red; numbered "
               "points, key beside the panels and below)", pareto_figure(rows)),
        pareto_key_table(rows),
    )
    return doc.to_html()


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(page())
