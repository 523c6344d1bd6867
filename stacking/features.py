"""Level-1 features: the one pure function that builds the meta-feature matrix.

Columns are named ``<member>:<class>`` (one per member and class; a binary task has
one column per member) followed by ``tabular:<name>`` passthrough columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import logit

from stacking.names import TRANSFORMS

__all__ = ["TRANSFORMS", "RankState", "build_meta_features", "column_names"]

_EPS = 1e-6


def column_names(members: Sequence[str], class_names: Sequence[str]) -> list[str]:
    """Names ``<member>:<class>``, member-major, for ``len(members) * len(class_names)`` columns."""
    return [f"{m}:{c}" for m in members for c in class_names]


@dataclass
class RankState:
    """Per-column empirical CDFs fitted on development OOF, stored as knots.

    ``x[col]`` are increasing probability values and ``q[col]`` the ECDF at those
    values; a new value is mapped by linear interpolation between knots, so one
    record transforms the same alone as in a batch.
    """

    x: dict[str, list[float]]
    q: dict[str, list[float]]

    @classmethod
    def fit(
        cls,
        preds: Mapping[str, NDArray[np.floating]],
        members: Sequence[str],
        class_names: Sequence[str],
        n_knots: int = 512,
    ) -> RankState:
        """Fit on ``preds[m]`` of shape (N, C); keeps at most ``n_knots`` quantile knots."""
        if n_knots < 2:
            raise ValueError(f"RankState.fit: n_knots must be >= 2, got {n_knots}")
        xs: dict[str, list[float]] = {}
        qs: dict[str, list[float]] = {}
        for m in members:
            p = np.asarray(preds[m], dtype=np.float64)
            for j, c in enumerate(class_names):
                v = np.sort(p[:, j])
                levels = np.linspace(0.0, 1.0, min(n_knots, v.size))
                knots = np.quantile(v, levels, method="inverted_cdf")
                ux = np.unique(knots)
                # ECDF (right-continuous) at each knot: share of development values <= knot.
                q = np.searchsorted(v, ux, side="right") / v.size
                xs[f"{m}:{c}"] = ux.tolist()
                qs[f"{m}:{c}"] = q.tolist()
        return cls(x=xs, q=qs)

    def transform(self, name: str, values: NDArray[np.floating]) -> NDArray[np.float64]:
        """Map (n,) probabilities of column ``name`` to [0, 1] ranks."""
        if name not in self.x:
            raise ValueError(f"RankState: no ECDF for column {name!r}; fitted: {sorted(self.x)}")
        x = np.asarray(self.x[name])
        q = np.asarray(self.q[name])
        if x.size == 1:
            return np.where(values >= x[0], 1.0, 0.0)
        return np.interp(values, x, q, left=0.0, right=1.0)

    def to_dict(self) -> dict[str, Any]:
        return {"x": self.x, "q": self.q}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RankState:
        return cls(x={k: list(v) for k, v in d["x"].items()},
                   q={k: list(v) for k, v in d["q"].items()})


def _member_probabilities(preds: Mapping[str, NDArray[np.floating]], m: str, c: int,
                          n: int | None) -> NDArray[np.float64]:
    """Member ``m``'s (N, C) probabilities; N must match the members before it (``n``)."""
    if m not in preds:
        raise ValueError(f"build_meta_features: no predictions for member {m!r}; "
                         f"have {sorted(preds)}")
    p = np.asarray(preds[m], dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != c or (n is not None and p.shape[0] != n):
        raise ValueError(f"build_meta_features: preds[{m!r}] must be (N, {c}), got {p.shape}")
    return p


def _transform(v: NDArray[np.float64], column: str, transform: str,
               rank_state: RankState | None) -> NDArray[np.float64]:
    """One probability column as a level-1 feature: as is, log-odds, or its ECDF rank."""
    if transform == "logit":
        return np.asarray(logit(np.clip(v, _EPS, 1.0 - _EPS)), dtype=np.float64)
    if transform == "rank":
        if rank_state is None:  # checked by build_meta_features
            raise ValueError("build_meta_features: transform='rank' needs a rank_state")
        return rank_state.transform(column, v)
    return v


def build_meta_features(
    preds: Mapping[str, NDArray[np.floating]],
    members: Sequence[str],
    class_names: Sequence[str],
    transform: str,
    rank_state: RankState | None = None,
    tabular: NDArray[np.floating] | None = None,
    tabular_names: Sequence[str] | None = None,
) -> tuple[NDArray[np.float64], list[str]]:
    """Build the level-1 feature matrix.

    Args:
        preds: member -> (N, C) probabilities (at least ``members``).
        members: members to include, in column order.
        class_names: the C class names.
        transform: ``"prob"`` (as is), ``"logit"`` (log-odds of p clipped to
            [1e-6, 1-1e-6]) or ``"rank"`` (ECDF from ``rank_state``).
        rank_state: required for ``"rank"``; fitted on development OOF.
        tabular: optional (N, F) passthrough features (NaN kept).
        tabular_names: F names of ``tabular``.

    Returns:
        X of shape (N, len(members) * C + F) and its column names.
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"build_meta_features: transform must be one of {TRANSFORMS}, "
                         f"got {transform!r}")
    if transform == "rank" and rank_state is None:
        raise ValueError("build_meta_features: transform='rank' needs a rank_state "
                         "(RankState.fit on development OOF)")
    if not members:
        raise ValueError("build_meta_features: at least one member is required")
    cols: list[NDArray[np.float64]] = []
    n: int | None = None
    for m in members:
        p = _member_probabilities(preds, m, len(class_names), n)
        n = p.shape[0]
        cols += [_transform(p[:, j], f"{m}:{cname}", transform, rank_state)
                 for j, cname in enumerate(class_names)]
    names = column_names(members, class_names)
    if tabular is not None:
        tab = np.asarray(tabular, dtype=np.float64)
        tnames = list(tabular_names or [])
        if tab.ndim != 2 or tab.shape != (n, len(tnames)):
            raise ValueError(f"build_meta_features: tabular must be (N={n}, F={len(tnames)}) "
                             f"matching tabular_names, got {tab.shape}")
        cols.extend(tab.T)
        names += [f"tabular:{t}" for t in tnames]
    return np.column_stack(cols), names
