"""Report figures as PNG bytes (matplotlib's object API with the Agg canvas, no pyplot state)."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

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
from ensembler.report.schema import ParetoRow, Subgroups

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


#: Directions tried around a point for its number, nearest first (unit vectors).
_DIRECTIONS = [(1.0, 0.0), (0.7, 0.7), (0.0, 1.0), (-0.7, 0.7), (-1.0, 0.0), (-0.7, -0.7),
               (0.0, -1.0), (0.7, -0.7)]


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(ax: Axes, x: np.ndarray, y: np.ndarray, labels: Sequence[str],
                 fontsize: float = 7.0) -> list[tuple[float, float]]:
    """Put each label near its point without overlapping another label or point.

    Greedy search over rings of offsets around the point (nearest ring first); a
    label is joined to its point by a leader line. Hand-written:
    matplotlib has no label placement, and a few dozen points need no optimiser.
    Call after the axes' scales and limits are final and the layout has been drawn.

    Returns the chosen offsets in points, one (dx, dy) per label.
    """
    fig = ax.get_figure()
    assert fig is not None
    px_per_pt = fig.dpi / 72.0
    pts = ax.transData.transform(np.column_stack([x, y]))
    frame = ax.get_window_extent()
    h = 1.25 * fontsize * px_per_pt
    markers = [(px - 4, py - 4, px + 4, py + 4) for px, py in pts]
    placed: list[tuple[float, ...]] = []
    offsets = []
    for (px, py), text in zip(pts, labels, strict=True):
        w = 0.62 * fontsize * px_per_pt * len(text) + 3
        best: tuple[float, float, int] | None = None
        for ring in range(1, 16):
            r = (9.0 + 9.0 * (ring - 1)) * px_per_pt
            for dx, dy in _DIRECTIONS:
                cx, cy = px + r * dx + np.sign(dx) * w / 2, py + r * dy
                box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                inside = (box[0] >= frame.x0 and box[2] <= frame.x1 and box[1] >= frame.y0
                          and box[3] <= frame.y1)
                if inside and not any(_overlaps(box, b) for b in placed + markers):
                    best = (cx, cy, ring)
                    break
            if best is not None:
                break
        cx, cy, _ = best if best is not None else (px, py + h, 1)
        placed.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        off = ((cx - px) / px_per_pt, (cy - py) / px_per_pt)
        offsets.append(off)
        ax.annotate(
            text, xy=(float(x[len(offsets) - 1]), float(y[len(offsets) - 1])), xytext=off,
            textcoords="offset points", ha="center", va="center", fontsize=fontsize,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
            arrowprops={"arrowstyle": "-", "lw": 0.6, "color": "0.3", "shrinkA": 0,
                        "shrinkB": 2},
        )
    return offsets


def pareto_figure(rows: Sequence[ParetoRow]) -> bytes:
    """Test AUC (with CI) vs batch-1 latency and vs parameters; the Pareto front is drawn.

    Points carry a number (the row's position in ``rows``, the same in both panels),
    placed so no two overlap, with leader lines where a number had to move away
    from its point; the key beside the panels maps numbers to models (``*``: on the
    Pareto front of either panel).
    """
    fig = Figure(figsize=(12.0, 4.8), layout="constrained")
    grid = fig.add_gridspec(1, 3, width_ratios=[1.0, 1.0, 0.72])
    axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]
    key_ax = fig.add_subplot(grid[0, 2])
    FigureCanvasAgg(fig)
    numbered = [(i + 1, r) for i, r in enumerate(rows)]
    on_front: set[int] = set()
    drawn = []
    for ax, label, get in (
        (axes[0], "latency per ECG, batch 1, p50 (ms)", _latency),
        (axes[1], "parameters", lambda r: r.n_params),
    ):
        pts = [(float(v), n, r) for n, r in numbered if (v := get(r))]
        if not pts:
            ax.set_title(f"no {label} recorded")
            continue
        x = np.array([v for v, _, _ in pts])
        a = np.array([_f(r.test_auc.point) for _, _, r in pts])
        err = np.array([[_f(r.test_auc.point) - _f(r.test_auc.lo),
                         _f(r.test_auc.hi) - _f(r.test_auc.point)] for _, _, r in pts]).T
        ax.errorbar(x, a, yerr=np.nan_to_num(err), fmt="o", ms=4, capsize=2, lw=0.8,
                    alpha=0.8)
        front = _pareto_mask(x, a)
        on_front |= {n for (_, n, _), f in zip(pts, front, strict=True) if f}
        order = np.argsort(x[front])
        ax.plot(x[front][order], a[front][order], "r-", lw=1, label="Pareto front")
        ax.set(xscale="log", xlabel=label, ylabel="test macro AUC")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_major_formatter(
            EngFormatter() if get is not _latency else FuncFormatter(lambda v, _: f"{v:g}")
        )
        ax.margins(x=0.12, y=0.08)
        ax.legend(fontsize=7, loc="lower right")
        drawn.append((ax, x, a, [str(n) for _, n, _ in pts]))
    fig.canvas.draw()  # final layout first: label placement works in display pixels
    for ax, x, a, labels in drawn:
        place_labels(ax, x, a, labels, fontsize=8.0)
    _pareto_key(key_ax, numbered, on_front)
    return _png(fig)


def _f(x: float | None) -> float:
    return float("nan") if x is None else float(x)


def _pareto_key(ax: Axes, numbered: Sequence[tuple[int, ParetoRow]],
                on_front: set[int]) -> None:
    """The legend table of the numbered points: number, model, test AUC, front mark."""
    ax.set_axis_off()
    ax.set_title("key (* = on a Pareto front)", fontsize=8, loc="left")
    lines = [f" #  {'model':<24} {'AUC':>5} {'ms':>6} {'params':>6}"]
    for n, r in numbered:
        ms = _latency(r)
        params = r.n_params
        lines.append(f"{n:>2}{'*' if n in on_front else ' '} {str(r.name)[:24]:<24} "
                     f"{_f(r.test_auc.point):.3f} {'' if ms is None else f'{ms:.1f}':>6} "
                     f"{'' if not params else _short(int(params)):>6}")
    ax.text(0.0, 1.0, "\n".join(lines), family="monospace", fontsize=7.5, va="top",
            ha="left", transform=ax.transAxes)


def _short(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e3 else str(n)


def _latency(row: ParetoRow) -> float | None:
    one = row.latency(1)
    return float(one.p50_ms) if one else None


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


def subgroup_figure(subgroups: Subgroups) -> bytes:
    """Forest plot of subgroup macro AUCs with CIs (hollow markers: small subgroups)."""
    cols = subgroups.columns
    models = subgroups.models
    labels, ys = [], 0
    fig = Figure(figsize=(6, 0.35 * sum(len(next(iter(v.values()))) for v in cols.values()) + 1.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for col, per_model in cols.items():
        n_rows = len(per_model[models[0]])
        for i in range(n_rows):
            for m, name in enumerate(models):
                r = per_model[name][i]
                if r.auc is None or not np.isfinite(r.auc):
                    continue
                yv = ys + 0.25 * (m - (len(models) - 1) / 2)
                ax.errorbar(
                    r.auc,
                    yv,
                    xerr=[[r.auc - _f(r.lo)], [_f(r.hi) - r.auc]],
                    fmt="o",
                    c=f"C{m}",
                    mfc="white" if r.small else f"C{m}",
                    ms=4,
                    capsize=2,
                    lw=0.8,
                    label=name if (ys == 0 and i == 0) else None,
                )
            labels.append(
                f"{col}={per_model[models[0]][i].value} (n={per_model[models[0]][i].n})"
            )
            ys += 1
    ax.set_yticks(range(len(labels)), labels=labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("test macro AUC [95% CI]")
    ax.legend(fontsize=7)
    fig.set_layout_engine("constrained")
    return _png(fig)
