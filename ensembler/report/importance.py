"""Per-class top features of feature members: the metrics block, its table and its figure.

Two measures per feature and class, both over the development out-of-fold rows (each row
explained by the fold model that did not train on it — never the test set):

* ``mean_abs_contribution``: mean over rows of |contribution| to the model's log-odds
  (LightGBM ``pred_contrib``, i.e. TreeSHAP; for the logistic learner the exact linear
  term coefficient × standardised value);
* ``gain`` (LightGBM only): the total split gain of the feature, averaged over the fold
  models, and its share of the class's total gain.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure

from ensembler.report.document import Figure, Heading, Paragraph, Table
from ensembler.report.schema import FeatureImportance, FeatureRank

__all__ = ["FeatureImportance", "FeatureRank", "importance_blocks"]


def importance_figure(fi: FeatureImportance) -> bytes:
    """One panel per class: each top feature's share of the class's summed mean
    |contribution| and (LightGBM) of its total gain, over all features, as grouped bars."""
    classes = list(fi.per_class)
    cols = min(len(classes), 3)
    rows_n = math.ceil(len(classes) / cols)
    k = max(len(v) for v in fi.per_class.values())
    fig = MplFigure(figsize=(4.6 * cols, 0.6 + 0.28 * k * rows_n + 0.6 * rows_n),
                    layout="constrained")
    for i, cls in enumerate(classes):
        ax = fig.add_subplot(rows_n, cols, i + 1)
        ranks = fi.per_class[cls]
        y = np.arange(len(ranks))[::-1]
        ax.barh(y + 0.2, [r.contribution_share for r in ranks], height=0.4,
                label="mean |contribution|")
        if fi.learner == "lightgbm":
            ax.barh(y - 0.2, [r.gain_share or 0.0 for r in ranks], height=0.4,
                    label="gain share")
        ax.set_yticks(y, [r.feature for r in ranks], fontsize=7)
        ax.set_title(cls, fontsize=9)
        ax.set_xlabel("share of the class total (all features)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    fig.axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{fi.member} ({fi.learner}): top features, development out-of-fold rows",
                 fontsize=9)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def importance_table(fi: FeatureImportance) -> Table:
    rows = []
    for cls, ranks in fi.per_class.items():
        for i, r in enumerate(ranks, 1):
            gain = "n/a" if r.gain is None else f"{r.gain:.4g} ({100 * (r.gain_share or 0):.1f} %)"
            rows.append([cls, str(i), f"`{r.feature}`",
                         f"{r.mean_abs_contribution:.4f} ({100 * r.contribution_share:.1f} %)",
                         gain])
    return Table(["class", "rank", "feature", f"mean |contribution| ({fi.unit}; share)",
                  "gain (share)"], rows,
                 f"{fi.member} ({fi.learner}): {fi.rows}; {fi.n_rows} rows.")


def importance_blocks(items: Sequence[FeatureImportance]) -> list[Any]:
    """The report section: one figure and one table per feature member (none: nothing)."""
    if not items:
        return []
    blocks: list[Any] = [
        Heading("Feature members: top features"),
        Paragraph("Per class, the features with the largest mean |contribution| to a feature "
                  "member's log-odds over the development out-of-fold rows (each ECG explained "
                  "by the fold model that did not train on it; the test set is not used). "
                  "LightGBM contributions are its `pred_contrib` (TreeSHAP); a logistic "
                  "member's are coefficient × standardised value. Gain is LightGBM's total "
                  "split gain per feature, averaged over the fold models. Both describe what "
                  "the model uses, not causes."),
    ]
    for fi in items:
        blocks += [Figure(f"top_features_{fi.member}", f"Top features of {fi.member}",
                          importance_figure(fi)), importance_table(fi)]
    return blocks
