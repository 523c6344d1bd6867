"""Model-card lines on inputs, generated from the manifest: tabular missingness as
measured on the development data, the record-length rule and the screening flags."""

from __future__ import annotations

from typing import Any

from ensembler.bundle.quality import QUALITY_THRESHOLD


def _missing_line(tab: dict[str, Any]) -> str:
    names = tab.get("names") or []
    if not names:
        return "- Tabular inputs: none."
    missing = tab.get("missing")
    if missing is None:
        return (f"- Tabular inputs: {', '.join(names)}. Missing values in the development "
                "data: not recorded (bundle exported by an older version).")
    parts = []
    for n in names:
        frac = float(missing.get(n, {}).get("development", 0.0))
        parts.append(f"{n} {100 * frac:.1f}%" if frac else f"{n} none")
    learned = [n for n in names if float(missing.get(n, {}).get("development", 0.0)) > 0]
    how = ("the models saw missing values of " + ", ".join(learned) + " in training and "
           "learned a missing indicator for them" if learned else
           "the models never saw a missing value in training")
    return (f"- Tabular inputs: {', '.join(names)}. Missing in the development data: "
            f"{', '.join(parts)}; {how}. `predict` and `evaluate` refuse a record without a "
            "value unless `--impute-missing-tabular` is given: then each fold model uses "
            "its own fitted training mean (the learned missing path where training had "
            "missing values) and the row is marked in the `imputed` column.")


def input_rules(inp: dict[str, Any]) -> list[str]:
    """Card bullet lines for the Inputs section."""
    dur = float(inp["duration_s"])
    return [
        _missing_line(inp.get("tabular") or {}),
        f"- Record length: the models and the calibration were fitted on {dur:g} s records. "
        f"A longer record is scored on its first {dur:g} s and flagged (`length` = "
        "`cropped`); `--sliding-windows` averages the scores of every "
        f"{dur:g} s window instead (flagged; not calibrated for that use). A shorter record "
        "is refused, or zero-padded and flagged with `--pad-short`.",
        "- Every scored record is screened and flagged, never silently scored: poor signal "
        f"quality (template-matching index of Orphanidou et al. 2015 below "
        f"{QUALITY_THRESHOLD} in any lead, or an implausible heart rate) and likely LA/RA "
        "limb-lead reversal (negative QRS in lead I with positive QRS in aVR).",
    ]
