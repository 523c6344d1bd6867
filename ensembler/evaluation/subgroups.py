"""AUC within subgroups (sex, age band, paced, any configured column)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ensembler.evaluation._checks import as_groups, as_labels, as_scores, evaluable_classes
from ensembler.evaluation.bootstrap import macro_auc_samples, patient_weights, percentile_ci

__all__ = ["SubgroupAUC", "subgroup_auc"]

MISSING = "(missing)"


@dataclass(frozen=True)
class SubgroupAUC:
    """Macro AUC of one subgroup with its patient-bootstrap CI.

    ``small`` is set when the subgroup has fewer than ``min_n`` records or a
    class lacks positives or negatives in it (its AUC then covers fewer classes,
    or is NaN when none is left); read such rows as anecdotal.
    """

    value: str
    n: int
    n_patients: int
    n_pos: list[int]
    auc: float
    lo: float
    hi: float
    small: bool
    classes_scored: int
    n_dropped: int = 0  # resamples left out of the CI: a scored class lost its positives

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def subgroup_auc(
    y: ArrayLike,
    p: ArrayLike,
    groups: ArrayLike,
    subgroup_values: ArrayLike,
    min_n: int = 30,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> list[SubgroupAUC]:
    """Macro AUC within each value of one subgroup column.

    Parameters
    ----------
    y : (N,) or (N, C) labels; p : matching scores; groups : (N,) patient ids.
    subgroup_values : (N,) the column's value per row; missing values (None/NaN)
        form their own subgroup named ``"(missing)"``.

    Returns
    -------
    One row per value, sorted by value as text.
    """
    yy = as_labels(y)
    pp = as_scores(p, yy.shape[0], yy.shape[1])
    codes = as_groups(groups, yy.shape[0])
    vals = pd.Series(np.asarray(subgroup_values, dtype=object))
    if len(vals) != yy.shape[0]:
        raise ValueError(f"subgroup_values: expected {yy.shape[0]} values, got {len(vals)}")
    labels = vals.where(vals.notna(), MISSING).astype(str).to_numpy()
    rows = []
    for k, value in enumerate(sorted(set(labels))):
        idx = np.flatnonzero(labels == value)
        ys, ps, gs = yy[idx], pp[idx], codes[idx]
        n_classes = int(evaluable_classes(ys).sum())
        if n_classes:
            ones = np.ones((1, idx.size))
            point = float(macro_auc_samples(ys, ps, ones)[0])
            w = patient_weights(gs, n_boot, seed + 7919 * (k + 1))
            samples = macro_auc_samples(ys, ps, w)
            lo, hi = percentile_ci(samples, alpha)
            dropped = int(np.count_nonzero(~np.isfinite(samples)))
        else:
            point = lo = hi = float("nan")
            dropped = n_boot
        rows.append(
            SubgroupAUC(
                value=value,
                n=int(idx.size),
                n_patients=int(np.unique(gs).size),
                n_pos=[int(v) for v in ys.sum(axis=0)],
                auc=point,
                lo=lo,
                hi=hi,
                small=bool(idx.size < min_n or n_classes < yy.shape[1]),
                classes_scored=n_classes,
                n_dropped=dropped,
            )
        )
    return rows
