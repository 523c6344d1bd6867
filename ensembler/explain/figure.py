"""One PNG per explained record: the 12 leads as read clinically, attribution as a colour band.

Layout: two columns, limb leads I, II, III, aVR, aVL, aVF on the left and chest leads
V1-V6 on the right (the 6 x 2 format), each over the whole record, on a common mV
scale per column. Behind each trace a colour band shows the stack map of that lead
(red: raises the class's score, blue: lowers it), on one symmetric colour scale per
record so leads can be compared. Feature members have no time axis: their signed
per-lead pred_contrib (log-odds) is written beside the lead's name, and their largest
whole-ECG (global) feature contributions under the title.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from ensembler.explain.records import RecordExplanation

__all__ = ["record_png"]


def _order(lead_names: Sequence[str]) -> list[list[int]]:
    left = [lead_names.index(n) for n in ("I", "II", "III", "aVR", "aVL", "aVF")
            if n in lead_names]
    right = [i for i in range(len(lead_names)) if i not in left]
    return [left, right]


def _lead_label(exp: RecordExplanation, lead: str, i: int) -> str:
    extra = [f"{m[:8]} {p.per_lead[i]:+.2f}" for m, p in exp.feature_parts.items()]
    return "\n".join([lead, *extra])


def _global_line(exp: RecordExplanation, top: int = 3) -> str:
    parts = []
    for m, p in exp.feature_parts.items():
        named = {**p.global_features, **p.tabular}
        best = sorted(named, key=lambda k: -abs(named[k]))[:top]
        parts.append(f"{m} (log-odds, not on a lead): "
                     + ", ".join(f"{k} {named[k]:+.2f}" for k in best))
    return "".join(f"\n{x}" for x in parts)


def record_png(exp: RecordExplanation, lead_names: Sequence[str], fs: float) -> bytes:
    """PNG bytes of ``exp``'s stack map over its 12-lead signal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = _order(list(lead_names))
    rows = max(len(c) for c in cols)
    t = np.arange(exp.signal.shape[-1]) / fs
    vmax = float(np.abs(exp.stack_map).max()) or 1.0
    fig, axes = plt.subplots(rows, 2, figsize=(12, 1.2 * rows + 1), sharex=True, squeeze=False)
    for c, leads in enumerate(cols):
        amp = float(np.abs(exp.signal[leads]).max()) if leads else 1.0
        for r in range(rows):
            ax = axes[r, c]
            if r >= len(leads):
                ax.axis("off")
                continue
            i = leads[r]
            ax.imshow(exp.stack_map[i][None, :], aspect="auto", cmap="RdBu_r", vmin=-vmax,
                      vmax=vmax, extent=(t[0], t[-1], -amp, amp), alpha=0.8)
            ax.plot(t, exp.signal[i], color="black", linewidth=0.7)
            ax.set_ylim(-amp, amp)
            ax.set_ylabel(_lead_label(exp, lead_names[i], i), rotation=0, labelpad=18,
                          fontsize=8, ha="right", va="center")
            ax.set_yticks([])
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    shares = ", ".join(f"{k} {v:+.2f}" for k, v in exp.shares.items())
    fig.suptitle(f"{exp.record} — {exp.class_name}: p = {exp.probability:.3f}; stack shares "
                 f"({exp.scale}): {shares}" + _global_line(exp), fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()
