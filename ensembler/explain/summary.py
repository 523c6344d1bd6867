"""``explain --summary``: per-lead importance over a fixed sample, as JSON and a Markdown table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ensembler.explain.records import RecordExplanation, lead_summary
from ensembler.utils.atomic import write_text

__all__ = ["IMPORTANCE", "write_summary"]

#: What a per-lead importance value is, per kind of row (the JSON and the report say it).
IMPORTANCE = ("mean over records, per lead, of: network member: mean |attribution| over "
              "time (member probability per standardised sample); feature member: summed "
              "|pred_contrib| of the lead's features (log-odds); stack: the |share| of the "
              "stack's score apportioned to the lead (the network maps rescaled to their "
              "shares, plus each feature member's share x its fraction on the lead). Rows "
              "are in different units: compare leads within a row.")


def write_summary(exps: Sequence[RecordExplanation], out: Path, lead_names: Sequence[str],
                  method: str, max_records: int) -> tuple[Path, str]:
    """Write ``summary_<class>.json`` into ``out``; return its path and a Markdown table."""
    table = lead_summary(exps, lead_names)
    cls = exps[0].class_name
    doc = {"class": cls, "n_records": len(exps), "method": method,
           "sample_rule": f"the first {max_records} input records by record id",
           "records": [e.record for e in exps],
           "importance": IMPORTANCE,
           "per_lead": table}
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"summary_{cls}.json"
    write_text(path, json.dumps(doc, indent=1) + "\n")
    lines = ["| map | " + " | ".join(lead_names) + " |",
             "|---|" + "---|" * len(lead_names)]
    for key, row in table.items():
        top = max(row.values()) or 1.0
        lines.append(f"| {key} | " + " | ".join(f"{v / top:.2f}" for v in row.values()) + " |")
    return path, "\n".join(lines)
