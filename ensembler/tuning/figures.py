"""The fairness figure: best tuning AUC so far vs trials and vs compute seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ensembler.utils.atomic import atomic_path


def best_so_far(trials: pd.DataFrame) -> pd.DataFrame:
    """Per arch, in trial order: cumulative seconds and the running best COMPLETE AUC.

    ``trials`` is ``trials_frame`` output; returns columns arch, index (1-based count
    of finished trials), seconds (cumulative), best (NaN until a trial completes).
    """
    rows = []
    finished = trials[trials["state"].isin(["COMPLETE", "PRUNED", "FAIL"]) & ~trials["surplus"]]
    for arch, g in finished.groupby("arch", sort=True):
        g = g.sort_values("number")
        value = g["value"].where(g["state"] == "COMPLETE").astype(float)
        rows.append(pd.DataFrame({
            "arch": arch,
            "index": np.arange(1, len(g) + 1),
            "seconds": g["seconds"].fillna(0.0).astype(float).cumsum().to_numpy(),
            "best": value.cummax().to_numpy(),
            "state": g["state"].to_numpy(),
        }))
    cols = ["arch", "index", "seconds", "best", "state"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)


def plot_fairness(trials: pd.DataFrame, path: Path) -> None:
    """Two panels (vs trials, vs compute seconds), one line per architecture; pruned
    trials as open circles, failed ones as crosses. Written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = best_so_far(trials)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for arch, g in curves.groupby("arch", sort=True):
        for ax, x in zip(axes, ("index", "seconds"), strict=True):
            (line,) = ax.step(g[x], g["best"], where="post", label=str(arch))
            for state, marker in (("PRUNED", "o"), ("FAIL", "x")):
                m = g[g["state"] == state]
                ax.plot(m[x], m["best"], marker, color=line.get_color(),
                        fillstyle="none", linestyle="none")
    axes[0].set_xlabel("finished trials")
    axes[1].set_xlabel("compute seconds")
    axes[0].set_ylabel("best tuning AUC so far")
    for ax in axes:
        ax.grid(alpha=0.3)
    if len(curves):
        axes[0].legend(fontsize="small", loc="lower right")
    fig.suptitle("Tuning budget per architecture (o pruned, x failed)")
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
