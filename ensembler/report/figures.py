"""Report figures as PNG bytes (matplotlib's object API with the Agg canvas, no pyplot state)."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, FuncFormatter, LogLocator, NullFormatter
from sklearn.metrics import roc_curve

from ensembler.errors import PredictionsError
from ensembler.evaluation import reliability_curve
from ensembler.report.inputs import LeaderboardEntry

__all__ = [
    "CURVE_COLUMNS",
    "data_efficiency_figure",
    "fairness_figure",
    "pareto_figure",
    "reliability_figure",
    "roc_figure",
    "subgroup_figure",
    "training_curves_figure",
]

CURVE_COLUMNS = ("epoch", "train_loss", "val_loss", "val_auc", "lr", "seconds")
MAX_LINES = 8


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _grid(n: int, size: float = 3.2, ncols: int = 3) -> tuple[Figure, list[Axes]]:
    cols = min(n, ncols)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(size * cols, size * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    return fig, axes


def roc_figure(
    y: np.ndarray, entries: Sequence[LeaderboardEntry], class_names: Sequence[str]
) -> bytes:
    """Test ROC curves, one panel per class, one line per model (at most 8)."""
    fig, axes = _grid(len(class_names))
    for c, ax in enumerate(axes):
        if y[:, c].min() == y[:, c].max():
            ax.set_title(f"{class_names[c]} (one label only)")
            continue
        for e in entries[:MAX_LINES]:
            fpr, tpr, _ = roc_curve(y[:, c], e.test_proba[:, c])
            ax.plot(fpr, tpr, lw=1.2, label=e.name)
        ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=0.8)
        ax.set(title=class_names[c], xlabel="1 - specificity", ylabel="sensitivity")
    axes[0].legend(fontsize=7, loc="lower right")
    return _png(fig)


def reliability_figure(
    y: np.ndarray, entries: Sequence[LeaderboardEntry], class_names: Sequence[str], n_bins: int
) -> bytes:
    """Reliability diagrams on the test set: observed frequency vs mean predicted probability."""
    fig, axes = _grid(len(class_names))
    for e in entries[:MAX_LINES]:
        for c, curve in enumerate(reliability_curve(y, e.test_proba, n_bins)):
            axes[c].plot(curve.prob_pred, curve.prob_true, marker="o", ms=3, lw=1.0, label=e.name)
    for c, ax in enumerate(axes):
        ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=0.8)
        ax.set(title=class_names[c], xlabel="mean predicted", ylabel="observed", xlim=(0, 1))
    axes[0].legend(fontsize=7, loc="upper left")
    return _png(fig)


def _pareto_mask(x: np.ndarray, auc: np.ndarray) -> np.ndarray:
    """Rows not dominated by another (lower-or-equal cost and higher-or-equal AUC, one strictly)."""
    keep = np.ones(x.size, dtype=bool)
    for i in range(x.size):
        better = (x <= x[i]) & (auc >= auc[i]) & ((x < x[i]) | (auc > auc[i]))
        keep[i] = not better.any()
    return keep


def pareto_figure(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Test AUC (with CI) vs batch-1 latency and vs parameters; the Pareto front is drawn."""
    fig, axes = _grid(2, size=4.5, ncols=2)
    for ax, label, get in (
        (axes[0], "latency per ECG, batch 1, p50 (ms)", _latency),
        (axes[1], "parameters", lambda r: r.get("n_params")),
    ):
        pts = [(float(v), r) for r in rows if (v := get(r))]
        if not pts:
            ax.set_title(f"no {label} recorded")
            continue
        x = np.array([v for v, _ in pts])
        a = np.array([r["test_auc"]["point"] for _, r in pts])
        err = np.array(
            [
                [
                    r["test_auc"]["point"] - r["test_auc"]["lo"],
                    r["test_auc"]["hi"] - r["test_auc"]["point"],
                ]
                for _, r in pts
            ]
        ).T
        ax.errorbar(x, a, yerr=np.nan_to_num(err), fmt="o", ms=4, capsize=2, lw=0.8)
        front = _pareto_mask(x, a)
        order = np.argsort(x[front])
        ax.plot(x[front][order], a[front][order], "r-", lw=1, label="Pareto front")
        for xi, ai, (_, r) in zip(x, a, pts, strict=True):
            ax.annotate(r["name"], (xi, ai), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set(xscale="log", xlabel=label, ylabel="test macro AUC")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_major_formatter(
            EngFormatter() if get is not _latency else FuncFormatter(lambda v, _: f"{v:g}")
        )
        ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def _latency(row: Mapping[str, Any]) -> float | None:
    lat = row.get("latency_ms") or {}
    one = lat.get("1")
    return float(one["p50_ms"]) if one else None


def read_curve(path: str | Path) -> pd.DataFrame:
    """One trainer curve CSV; raises naming the file and the missing columns."""
    frame = pd.read_csv(path)
    missing = [c for c in ("epoch", "train_loss", "val_loss", "val_auc") if c not in frame.columns]
    if missing:
        raise PredictionsError(f"{path}: missing column(s) {missing}; expected {CURVE_COLUMNS}")
    return frame


def training_curves_figure(curves: Mapping[str, Sequence[str | Path]]) -> bytes:
    """Per member: train/val loss (left axis) and val AUC (right), one line per fold."""
    fig, axes = _grid(len(curves), size=3.6)
    for ax, (member, paths) in zip(axes, curves.items(), strict=True):
        twin = ax.twinx()
        for k, path in enumerate(paths):
            f = read_curve(path)
            for axis, col, color, style, label in (
                (ax, "train_loss", "C0", "-", "train loss"),
                (ax, "val_loss", "C1", "-", "val loss"),
                (twin, "val_auc", "C2", "--", "val AUC"),
            ):
                axis.plot(f["epoch"], f[col], c=color, ls=style, lw=0.8,
                          alpha=0.7 if axis is ax else 1.0, label=label if k == 0 else None)
        ax.set(title=f"{member} ({len(paths)} folds)", xlabel="epoch", ylabel="loss")
        twin.set_ylabel("val AUC")
        ax.legend(fontsize=6, loc="upper right")
        twin.legend(fontsize=6, loc="center right")
    return _png(fig)


def fairness_figure(trials: pd.DataFrame) -> bytes:
    """Best-so-far tuning AUC per architecture vs trial number and vs cumulative seconds."""
    fig, axes = _grid(2, size=4.5, ncols=2)
    done = trials[trials["state"].astype(str).str.upper().str.endswith("COMPLETE")]
    for arch, g in done.sort_values("number").groupby("arch", sort=True):
        best = g["value"].astype(float).cummax().to_numpy()
        axes[0].step(g["number"], best, where="post", label=str(arch))
        secs = (
            trials[trials["arch"] == arch].sort_values("number")["seconds"].astype(float).cumsum()
        )
        axes[1].step(secs.loc[g.index], best, where="post", label=str(arch))
    axes[0].set(xlabel="trial", ylabel="best tuning AUC so far", title="per trial")
    axes[1].set(
        xlabel="cumulative tuning seconds", ylabel="best tuning AUC so far", title="per second"
    )
    axes[0].legend(fontsize=7)
    return _png(fig)


def data_efficiency_figure(frame: pd.DataFrame) -> bytes:
    """Test AUC vs fraction of training patients, one line per architecture."""
    fig, (ax,) = _grid(1, size=4.5)
    for arch, g in frame.sort_values("fraction").groupby("arch", sort=True):
        ax.plot(100 * g["fraction"], g["test_auc"], marker="o", label=str(arch))
    ax.set(xscale="log", xlabel="training patients (%)", ylabel="test macro AUC")
    ax.set_xticks([10, 25, 50, 100], labels=["10", "25", "50", "100"])
    ax.legend(fontsize=7)
    return _png(fig)


def subgroup_figure(subgroups: Mapping[str, Any]) -> bytes:
    """Forest plot of subgroup macro AUCs with CIs (hollow markers: small subgroups)."""
    cols = subgroups["columns"]
    models = subgroups["models"]
    labels, ys = [], 0
    fig = Figure(figsize=(6, 0.35 * sum(len(next(iter(v.values()))) for v in cols.values()) + 1.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for col, per_model in cols.items():
        n_rows = len(per_model[models[0]])
        for i in range(n_rows):
            for m, name in enumerate(models):
                r = per_model[name][i]
                if r["auc"] is None or not np.isfinite(r["auc"]):
                    continue
                yv = ys + 0.25 * (m - (len(models) - 1) / 2)
                ax.errorbar(
                    r["auc"],
                    yv,
                    xerr=[[r["auc"] - r["lo"]], [r["hi"] - r["auc"]]],
                    fmt="o",
                    c=f"C{m}",
                    mfc="white" if r["small"] else f"C{m}",
                    ms=4,
                    capsize=2,
                    lw=0.8,
                    label=name if (ys == 0 and i == 0) else None,
                )
            labels.append(
                f"{col}={per_model[models[0]][i]['value']} (n={per_model[models[0]][i]['n']})"
            )
            ys += 1
    ax.set_yticks(range(len(labels)), labels=labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("test macro AUC [95% CI]")
    ax.legend(fontsize=7)
    fig.set_layout_engine("constrained")
    return _png(fig)
