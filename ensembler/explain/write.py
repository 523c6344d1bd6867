"""Write explanations: ``<record>.png`` and ``<record>.json`` per record into one folder."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ensembler.bundle.integrity import json_clean
from ensembler.explain.figure import record_png
from ensembler.explain.records import RecordExplanation
from ensembler.utils.atomic import write_bytes, write_text

__all__ = ["explanation_json", "write_explanations"]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "record"


def explanation_json(exp: RecordExplanation, lead_names: Sequence[str], method: str,
                     n_steps: int) -> dict[str, Any]:
    """The numbers behind one PNG (maps rounded to 6 significant digits)."""
    return json_clean({
        "record": exp.record, "class": exp.class_name, "probability": exp.probability,
        "prediction": exp.prediction,
        "member_probability": exp.member_probability,
        "stack": {"shares": exp.shares, "bias": exp.bias, "scale": exp.scale,
                  "method": exp.stack_method,
                  "note": "additive split of the meta-learner's raw score before calibration; "
                          "the stack map rescales each member's map to |its share|"},
        "attribution": {"method": method, "n_steps": n_steps if method == "ig" else None,
                        "baseline": "zero after each fold model's standardisation (a flat "
                                    "line at the lead's training mean)",
                        "lead_names": list(lead_names)},
        "lead_importance": exp.lead_importance(),
        "stack_outside_leads": {"global_features": exp.stack_global,
                                "tabular": exp.stack_tabular,
                                "note": "|share| the stack map cannot place on a lead: feature "
                                        "members' whole-ECG features, and tabular inputs "
                                        "(passthrough and feature members' own)"},
        "feature_members": {m: {"per_lead": dict(zip(lead_names, p.per_lead, strict=True)),
                                "global_features": p.global_features, "tabular": p.tabular,
                                "bias": p.bias,
                                "method": "LightGBM pred_contrib (TreeSHAP), log-odds, mean "
                                          "over fold boosters; a lead's value sums its "
                                          "features' contributions"}
                            for m, p in exp.feature_parts.items()},
        "stack_map": [[float(f"{v:.6g}") for v in row] for row in exp.stack_map],
        "member_maps": {m: [[float(f"{v:.6g}") for v in row] for row in a]
                        for m, a in exp.member_maps.items()},
    })


def write_explanations(exps: Sequence[RecordExplanation], out: Path, lead_names: Sequence[str],
                       fs: float, method: str, n_steps: int) -> list[Path]:
    """Write every record's PNG and JSON into ``out`` (created); returns the PNG paths."""
    out.mkdir(parents=True, exist_ok=True)
    pngs = []
    for exp in exps:
        stem = out / f"{_safe(exp.record)}_{_safe(exp.class_name)}"
        doc = explanation_json(exp, lead_names, method, n_steps)
        write_text(stem.with_suffix(".json"), json.dumps(doc, indent=1) + "\n")
        write_bytes(stem.with_suffix(".png"), record_png(exp, lead_names, fs))
        pngs.append(stem.with_suffix(".png"))
    return pngs
