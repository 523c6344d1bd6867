"""Missing tabular inputs: refused by default, or imputed with the bundle's fitted state.

A bundle whose members or stack read tabular inputs (age, sex, …) needs their values.
Three policies (``MISSING_POLICIES``):

- ``error`` (default): a record without a value for a required input is refused;
  :func:`require_tabular` names the records and the columns.
- ``impute``: the value is imputed with what was fitted on the training data, and
  the row is marked. For a fold model it is that fold's fitted mean
  (``FoldState.tabular_mean``, fitted on the fold's training part and shipped in
  the bundle as ``state.json``); for the stack's passthrough columns it is the
  development mean recorded at export (``input.tabular.stack_imputer``, the rows the
  stack was fitted on). Where the model's training data itself had missing values
  of that column (``input.tabular.missing``), the model learned a missing path
  (the fused networks' missing indicator, the meta-learner's own NaN handling), so
  the value is passed on as missing, exactly as in training. A feature member's
  LightGBM boosters always take a missing tabular value as missing (NaN), their own
  learned missing-value path, under every policy.
- ``as-trained``: missing values go through the models' training-time missing path
  unchanged; used only to reproduce a run's own predictions (parity checks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ensembler.errors import BundleIntegrityError, DataError

MISSING_POLICIES = ("error", "impute", "as-trained")


def tabular_missingness(tabular: np.ndarray | None, names: Sequence[str],
                        fold: np.ndarray) -> dict[str, dict[str, Any]]:
    """Fraction missing per column on development rows, and in each fold's training part.

    ``tabular`` (N_dev, F) development rows in the order of ``names``; ``fold`` (N_dev,)
    0..K-1. Fold k's training part is every development row outside fold k.
    """
    out: dict[str, dict[str, Any]] = {}
    if tabular is None:
        return out
    nan = np.isnan(np.asarray(tabular, np.float64))
    k = int(fold.max()) + 1 if len(fold) else 0
    for j, name in enumerate(names):
        col = nan[:, j]
        out[name] = {
            "development": float(col.mean()) if len(col) else 0.0,
            "fold_training": [float(col[fold != i].mean()) if (fold != i).any() else 0.0
                              for i in range(k)],
        }
    return out


def development_means(tabular: np.ndarray | None, names: Sequence[str]) -> dict[str, float]:
    """NaN-aware mean per column of the development rows (the stack's passthrough imputer)."""
    if tabular is None or not len(names):
        return {}
    with np.errstate(all="ignore"):
        means = np.nanmean(np.asarray(tabular, np.float64), axis=0)
    return {n: float(m) if np.isfinite(m) else 0.0 for n, m in zip(names, means, strict=True)}


def missing_mask(tabular: np.ndarray | None, n: int, n_cols: int) -> np.ndarray:
    """(N, F) bool: True where a required tabular value is missing."""
    if tabular is None:
        return np.ones((n, n_cols), bool)
    return np.isnan(np.asarray(tabular, np.float64))


def describe_missing(record_ids: Sequence[str], mask: np.ndarray, names: Sequence[str],
                     shown: int = 5) -> str:
    """'3 record(s) lack values: a (age, sex), b (age), c (sex)' for messages and reports."""
    rows = np.flatnonzero(mask.any(axis=1))
    items = [f"{record_ids[i]} ({', '.join(n for n, m in zip(names, mask[i], strict=True) if m)})"
             for i in rows[:shown]]
    more = f" and {len(rows) - shown} more" if len(rows) > shown else ""
    return f"{len(rows)} record(s) lack values: {', '.join(items)}{more}"


def require_tabular(record_ids: Sequence[str], mask: np.ndarray, names: Sequence[str],
                    policy: str) -> None:
    """Raise DataError naming records and columns when values are missing under ``error``."""
    if policy not in MISSING_POLICIES:
        raise ValueError(f"missing_tabular: expected one of {MISSING_POLICIES}, got {policy!r}")
    if policy != "error" or not mask.any():
        return
    raise DataError(
        f"the bundle needs tabular input(s) {', '.join(names)}; "
        f"{describe_missing(record_ids, mask, names)}. Give them as columns of a CSV "
        f"manifest (record,{','.join(names)}), or pass --impute-missing-tabular to impute "
        "them with the training folds' fitted means (imputed rows are marked)")


def imputed_labels(mask: np.ndarray, names: Sequence[str]) -> list[str]:
    """Per row, the imputed columns joined by ';' ('' when none)."""
    return [";".join(n for n, m in zip(names, row, strict=True) if m) for row in mask]


@dataclass(frozen=True)
class TabularImputer:
    """Fill values taken from the bundle's fitted state (NaN = keep missing, as trained).

    ``member_fill``: member -> one (F_member,) vector per level-0 set;
    ``stack_fill``: passthrough column -> value.
    """

    member_fill: dict[str, list[np.ndarray]]
    stack_fill: dict[str, float]

    def fill_member(self, name: str, k: int, t: np.ndarray | None) -> np.ndarray | None:
        if t is None:
            return None
        fill = self.member_fill[name][k][None, :]
        return np.where(np.isnan(t) & np.isfinite(fill), fill, t).astype(np.float32)

    def fill_stack(self, t: np.ndarray | None, names: Sequence[str]) -> np.ndarray | None:
        if t is None:
            return None
        fill = np.array([self.stack_fill.get(n, np.nan) for n in names], np.float64)[None, :]
        return np.where(np.isnan(t) & np.isfinite(fill), fill, t)


def build_imputer(manifest: dict[str, Any], members: Sequence[Any], where: str
                  ) -> TabularImputer:
    """The imputer of a loaded bundle, checked against each fold model's fitted state.

    ``members``: the bundle's BundleMembers. Raises BundleIntegrityError when the
    manifest lacks the training missingness (exported by an older version) or a fold
    state was not fitted on the member's tabular columns.
    """
    tab = manifest["input"]["tabular"]
    if "missing" not in tab or "stack_imputer" not in tab:
        raise BundleIntegrityError(
            f"{where}: the manifest does not record the training data's missing values "
            "(exported by an older ensembler); re-export the bundle to impute tabular inputs")
    missing = tab["missing"]
    member_fill: dict[str, list[np.ndarray]] = {}
    for m in members:
        if getattr(m, "kind", "network") == "features":
            # LightGBM's own missing-value path (NaN), in training and here alike
            member_fill[m.name] = [np.full(len(m.tabular_names), np.nan, np.float32)
                                   for _ in m.models]
            continue
        fills = []
        for k, fm in enumerate(m.models):
            st = fm.state
            if list(st.tabular_names) != list(m.tabular_names) or not np.all(
                    np.isfinite(st.tabular_mean)):
                raise BundleIntegrityError(
                    f"{where}: members/{m.name}/{fm.label}/state.json was fitted on tabular "
                    f"columns {st.tabular_names}, expected {m.tabular_names} with finite means")
            learned = [_had_missing(missing, n, fm.label, k) for n in m.tabular_names]
            fills.append(np.array([np.nan if seen else mu for seen, mu in
                                   zip(learned, st.tabular_mean, strict=True)], np.float32))
        member_fill[m.name] = fills
    stack_fill = {n: (np.nan if missing.get(n, {}).get("development", 0.0) > 0 else float(v))
                  for n, v in tab["stack_imputer"].items()}
    return TabularImputer(member_fill, stack_fill)


def _had_missing(missing: dict[str, Any], name: str, label: str, k: int) -> bool:
    """Did the training data of model ``label`` (fold_k or full) have missing ``name``?"""
    info = missing.get(name, {})
    if label == "full":
        return bool(info.get("development", 0.0) > 0)
    folds = info.get("fold_training", [])
    return bool(folds[k] > 0) if k < len(folds) else bool(info.get("development", 0.0) > 0)
