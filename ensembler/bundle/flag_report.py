"""The ``flags`` section of ``evaluate``'s report: how many records were flagged, and
whether the macro AUC changes when they are left out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ensembler.bundle.lengths import AS_TRAINED
from ensembler.evaluation import cluster_bootstrap


def flag_summary(frame: pd.DataFrame, y: np.ndarray, p: np.ndarray, groups: np.ndarray,
                 n_boot: int, seed: int) -> dict[str, Any]:
    """Counts per flag and the macro AUC on all records vs on the unflagged ones.

    ``frame``: predict's output frame (rows aligned with ``y`` (N, C), ``p`` (N, C),
    ``groups`` (N,)).
    """
    flagged = frame["flagged"].to_numpy() == 1
    counts = {
        "length_not_as_trained": int((frame["length"] != AS_TRAINED).sum()),
        "tabular_imputed": int((frame["imputed"] != "").sum()),
        "poor_quality": int(frame["poor_quality"].sum()),
        "lead_reversal": int(frame["lead_reversal"].sum()),
        "any": int(flagged.sum()),
    }
    keep = ~flagged
    out: dict[str, Any] = {"counts": counts, "n_records": len(frame)}
    both = bool(keep.any()) and bool((y[keep].min(axis=0) != y[keep].max(axis=0)).all())
    if counts["any"] == 0:
        out["auc_unflagged"] = None
        out["note"] = "no record flagged"
    elif not both:
        out["auc_unflagged"] = None
        out["note"] = "too few unflagged records with both labels to compute an AUC"
    else:
        ci = cluster_bootstrap(y[keep], p[keep], groups[keep], n_boot=n_boot, seed=seed)
        out["auc_unflagged"] = {"point": ci.point, "lo": ci.lo, "hi": ci.hi,
                                "n_records": int(keep.sum())}
        out["note"] = "macro AUC without the flagged records (patient-cluster bootstrap CI)"
    return out


def flags_markdown(flags: dict[str, Any] | None) -> list[str]:
    """Markdown lines for the report (empty when the report has no flags section)."""
    if not flags:
        return []
    c = flags["counts"]
    lines = ["", "Flagged records (see predict's flag columns): "
             f"{c['any']} of {flags['n_records']} — length not as trained "
             f"{c['length_not_as_trained']}, tabular imputed {c['tabular_imputed']}, "
             f"poor signal quality {c['poor_quality']}, likely LA/RA reversal "
             f"{c['lead_reversal']}."]
    a = flags.get("auc_unflagged")
    if a:
        lines.append(f"Macro ROC AUC without them: {a['point']:.3f} (95% CI {a['lo']:.3f}–"
                     f"{a['hi']:.3f}, {a['n_records']} records).")
    else:
        lines.append(f"Macro ROC AUC without them: n/a ({flags.get('note')}).")
    return lines
