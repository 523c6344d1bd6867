"""Report section: attribution maps of test ECGs chosen by a fixed rule, per-lead importance.

Renders an :class:`ensembler.explain.section.AttributionSection` (computed by the
comparison stage from the run's own fold models): one figure per class with the drawn
ECGs (stack and best single model side by side), one figure of per-lead importance per
class (rows: the stack and every member, each relative to its largest lead) and the
same numbers as tables. The numbers go to ``metrics.json`` under ``attributions``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ensembler.report.document import Block, Figure, Heading, Paragraph, Table

if TYPE_CHECKING:
    from ensembler.explain.section import AttributionSection, ClassSummary, DrawnECG

__all__ = ["HEADING", "AttributionsBlock", "ClassLeads", "DrawnRecord", "OutsideLeads",
           "attribution_blocks"]


@dataclass
class DrawnRecord:
    """A drawn test ECG (metrics.json ``attributions.drawn.<class>[i]``)."""

    record: str
    patient: str
    stack_probability: float | None
    best_probability: float | None
    stack_lead: list[float]  # apportioned |share| per lead
    best_lead: list[float]  # network: mean |IG| per lead; feature member: signed contribution


@dataclass
class OutsideLeads:
    """The part not measured on a lead, on the row's scale."""

    global_: float | None = field(metadata={"key": "global"})
    tabular: float | None


@dataclass
class ClassLeads:
    """Mean per-lead importance of one class over the sample: rows ``stack`` and members."""

    rows: dict[str, list[float]]
    outside_leads: dict[str, OutsideLeads]


@dataclass
class AttributionsBlock:
    """metrics.json ``attributions`` (see :mod:`ensembler.explain.section`)."""

    unavailable: str = ""  # why there are no attributions (empty: there are)
    stack: str = ""
    best_single: str = ""
    lead_names: list[str] = field(default_factory=list)
    drawn_rule: str = ""
    sample_rule: str = ""
    n_sample: int = 0
    sample_records: list[str] = field(default_factory=list)
    drawn: dict[str, list[DrawnRecord]] = field(default_factory=dict)
    per_lead: dict[str, ClassLeads] = field(default_factory=dict)
    methods: dict[str, str] = field(default_factory=dict)
    skipped_members: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

HEADING = "Where the decisions come from (attributions)"

_METHOD = (
    "Network members: Captum Integrated Gradients for the drawn ECGs, gradient x input for "
    "the per-lead summary, through each fold model's standardisation, windows and window "
    "aggregation, averaged over fold models (baseline: a flat line at each lead's training "
    "mean). Feature members: LightGBM pred_contrib (TreeSHAP, log-odds) per feature, summed "
    "over the features measured on each lead; whole-ECG features (rate, intervals, axes) and "
    "tabular inputs have no lead and are listed apart. The stack: its score split into "
    "member shares (logistic: coefficients on the transformed scores; LightGBM: "
    "pred_contrib; blends: weights), each member's attribution rescaled to |its share|. "
    "These say where the models' outputs are sensitive; they are not evidence that those "
    "leads carry the diagnosis.")


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name) or "class"


def _traces(ax: Any, sig: np.ndarray, amap: np.ndarray | None, leads: Sequence[str]) -> None:
    """All leads stacked top to bottom, the map as a colour band behind each trace."""
    n, t = sig.shape
    amp = float(np.percentile(np.abs(sig), 99.5)) or 1.0
    vmax = float(np.abs(amap).max()) if amap is not None else 0.0
    for i in range(n):
        y0 = n - 1 - i
        if amap is not None and vmax > 0:
            ax.imshow(amap[i][None, :], aspect="auto", cmap="RdBu_r", vmin=-vmax,
                      vmax=vmax, extent=(0, t, y0 - 0.5, y0 + 0.5), alpha=0.8)
        ax.plot(np.arange(t), y0 + 0.45 * sig[i] / amp, color="black", lw=0.5)
    ax.set_yticks(range(n))
    ax.set_yticklabels(list(leads)[::-1], fontsize=6)
    ax.set_ylim(-0.5, n - 0.5)
    ax.set_xlim(0, t)
    ax.set_xticks([])


def _bars(ax: Any, values: Sequence[float], leads: Sequence[str], title: str) -> None:
    v = np.asarray(values, float)[::-1]
    ax.barh(range(len(v)), v, color=np.where(v >= 0, "#c0392b", "#2c7bb6"))
    ax.set_yticks(range(len(v)))
    ax.set_yticklabels(list(leads)[::-1], fontsize=6)
    ax.set_title(title, fontsize=7)
    ax.tick_params(axis="x", labelsize=6)


def _drawn_png(drawn: Sequence[DrawnECG], leads: Sequence[str], stack: str, best: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(drawn), 4, figsize=(13, 3.4 * len(drawn)), squeeze=False,
                             gridspec_kw={"width_ratios": [4, 1, 4, 1]})
    for r, d in enumerate(drawn):
        _traces(axes[r, 0], d.signal, d.stack_map, leads)
        axes[r, 0].set_title(f"{d.record}: {stack} p = {d.stack_probability:.3f} "
                             "(network members' maps, rescaled to their shares)", fontsize=7)
        _bars(axes[r, 1], d.stack_lead, leads, "|share| per lead")
        _traces(axes[r, 2], d.signal, d.best_map, leads)
        what = "IG map" if d.best_map is not None else "feature member: per-lead bars only"
        axes[r, 2].set_title(f"best single ({best}) p = {d.best_probability:.3f} ({what})",
                             fontsize=7)
        _bars(axes[r, 3], d.best_lead, leads, "mean |IG| per lead" if d.best_map is not None
              else "pred_contrib per lead")
    fig.tight_layout()
    return _png(fig)


def _relative(row: Sequence[float]) -> np.ndarray:
    v = np.asarray(row, float)
    top = float(v.max()) if v.size else 0.0
    return v / top if top > 0 else v


def _importance_png(summaries: Sequence[ClassSummary], leads: Sequence[str]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(summaries)
    rows = len(summaries[0].rows)
    fig, axes = plt.subplots(n, 1, figsize=(8, 0.35 * rows * n + 1.2 * n), squeeze=False)
    for ax, s in zip(axes[:, 0], summaries, strict=True):
        mat = np.stack([_relative(v) for v in s.rows.values()])
        im = ax.imshow(mat, aspect="auto", cmap="viridis", vmin=0, vmax=1)
        ax.set_yticks(range(len(s.rows)), list(s.rows), fontsize=7)
        ax.set_xticks(range(len(leads)), list(leads), fontsize=7)
        ax.set_title(f"{s.class_name}: per-lead importance (each row / its largest lead)",
                     fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    return _png(fig)


def _table(s: ClassSummary, leads: Sequence[str]) -> Table:
    rows = []
    for key, vals in s.rows.items():
        top = max(vals) if vals else 0.0
        rel = _relative(vals)
        out = s.outside.get(key)
        extra = ["—", "—"] if out is None or top <= 0 else \
            [f"{out['global'] / top:.2f}", f"{out['tabular'] / top:.2f}"]
        rows.append([key, *(f"{v:.2f}" for v in rel), leads[int(np.argmax(rel))], *extra])
    return Table(["map", *leads, "top lead", "global", "tabular"], rows,
                 caption=f"{s.class_name}: mean per-lead importance over the sample, each row "
                         "relative to its largest lead (rows are in different units); global "
                         "and tabular: the part not measured on a lead, same scale")


def attribution_blocks(sec: AttributionSection | None) -> list[Block]:
    """Heading, rules, figures and tables (a sentence when the section is unavailable)."""
    if sec is None:
        return []
    if sec.unavailable:
        return [Heading(HEADING), Paragraph(f"No attributions: {sec.unavailable}.")]
    leads = sec.lead_names
    out: list[Block] = [
        Heading(HEADING),
        Paragraph(f"Drawn ECGs: {sec.drawn_rule}. Per-lead importance: {sec.sample_rule}. "
                  "Both rules were fixed in the config before the test set was read; the "
                  "labels are used only to find the drawn ECGs, and nothing is chosen from "
                  f"these numbers. {_METHOD}"),
    ]
    if sec.skipped:
        out.append(Paragraph("Not attributed (no weights to differentiate): "
                             + "; ".join(f"`{m}`" for m in sec.skipped) + "."))
    for name, drawn in sec.drawn.items():
        if drawn:
            out.append(Figure(f"attributions_{_safe(name)}",
                              f"{name}: drawn test ECGs, stack `{sec.stack}` (left) and best "
                              f"single `{sec.best_single}` (right); red raises the score, blue "
                              "lowers it", _drawn_png(drawn, leads, sec.stack, sec.best_single)))
        else:
            out.append(Paragraph(f"{name}: no test patient with a positive label; nothing "
                                 "drawn."))
    out.append(Figure("lead_importance", "Per-lead importance per class (the stack and every "
                      "member; each row relative to its largest lead)",
                      _importance_png(sec.summaries, leads)))
    out += [_table(s, leads) for s in sec.summaries]
    return out
