"""Generic source: a folder of WFDB records plus a CSV manifest.

Manifest columns (names configurable in ``ManifestConfig``): ``record`` (path
relative to the record folder, without extension), ``patient_id``, the label
columns (0/1), optional tabular columns (numeric, blank = NaN), optional
subgroup columns, and an optional fold column whose value ``-1`` or ``test``
marks the held-out test set, a blank a development record (fold assigned by the
splitter), and an integer >= 0 a predefined development fold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ensembler.config import ManifestConfig
from ensembler.data.table import DEV_FOLD, TEST_FOLD, RecordTable
from ensembler.errors import DataError


def _lines(mask: pd.Series | np.ndarray, limit: int = 5) -> list[int]:
    """CSV line numbers (1-based, after the header) of the first ``limit`` true rows."""
    return [int(i) + 2 for i in np.flatnonzero(np.asarray(mask))[:limit]]


def _fold_column(values: pd.Series, where: str) -> np.ndarray:
    """Blank = development (the splitter assigns the fold), ``test``/-1 = test, else an
    integer predefined development fold (>= 0)."""
    text = values.astype(str).str.strip().str.lower()
    coded = text.where(text != "test", str(TEST_FOLD)).where(text != "", str(DEV_FOLD))
    folds = pd.to_numeric(coded, errors="coerce")
    bad = folds.isna() | (folds != np.round(folds))
    bad |= (folds < 0) & (folds != TEST_FOLD) & (text != "")  # -2, -3, ... typed in
    if bad.any():
        raise DataError(f"{where}: fold values must be blank (development), 'test' or -1 "
                        f"(test set), or an integer >= 0 (a predefined development fold); "
                        f"bad at lines {_lines(bad)}")
    return folds.to_numpy().astype(np.int64)


def _read_csv(cfg: ManifestConfig) -> pd.DataFrame:
    """The manifest as strings, with every configured column present and >= 1 row."""
    csv = Path(cfg.path)
    if not csv.is_file():
        raise DataError(f"manifest not found: {csv}")
    try:
        df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{csv}: not a readable CSV: {exc}") from None
    needed = [cfg.record_column, cfg.patient_column, *cfg.label_columns,
              *cfg.tabular_columns, *cfg.subgroup_columns]
    if cfg.fold_column:
        needed.append(cfg.fold_column)
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataError(f"{csv}: missing column(s) {missing}; has {list(df.columns)}")
    if df.empty:
        raise DataError(f"{csv}: manifest has no rows")
    return df


def _record_ids(df: pd.DataFrame, cfg: ManifestConfig, csv: Path) -> pd.Series:
    """Stripped record ids; record and patient ids non-empty, record ids unique."""
    for col in (cfg.record_column, cfg.patient_column):
        empty = df[col].str.strip() == ""
        if empty.any():
            raise DataError(f"{csv}: column {col!r} is empty at lines {_lines(empty)}")
    rec = df[cfg.record_column].str.strip()
    dup = rec[rec.duplicated()].unique()
    if len(dup):
        raise DataError(f"{csv}: record(s) listed twice in {cfg.record_column!r}: "
                        f"{[str(d) for d in dup[:5]]}")
    return rec


def _labels(df: pd.DataFrame, columns: list[str], csv: Path) -> np.ndarray:
    """(N, C) uint8 labels; every value must be 0 or 1."""
    labels = np.zeros((len(df), len(columns)), np.uint8)
    for j, col in enumerate(columns):
        values = df[col].str.strip()
        bad = ~values.isin(["0", "1", "0.0", "1.0"])
        if bad.any():
            raise DataError(f"{csv}: label column {col!r} must be 0/1; bad values "
                            f"{[str(v) for v in values[bad].unique()[:5]]} at lines "
                            f"{_lines(bad)}")
        labels[:, j] = values.astype(float).astype(np.uint8)
    return labels


def _tabular(df: pd.DataFrame, columns: list[str], csv: Path) -> np.ndarray:
    """(N, F) float32 tabular values; blank is NaN, anything else must be numeric."""
    tabular = np.full((len(df), len(columns)), np.nan, np.float32)
    for j, col in enumerate(columns):
        text = df[col].str.strip()
        num = pd.Series(pd.to_numeric(text.mask(text == ""), errors="coerce"))
        bad = num.isna() & (text != "")
        if bad.any():
            raise DataError(f"{csv}: tabular column {col!r} is not numeric: "
                            f"{[str(v) for v in df[col][bad].unique()[:5]]} at lines "
                            f"{_lines(bad)}")
        tabular[:, j] = num.to_numpy(dtype=np.float32)
    return tabular


def read_manifest(
    cfg: ManifestConfig, source: str = "wfdb", expected_fs: float | None = None
) -> RecordTable:
    """Read a manifest CSV into a :class:`RecordTable` (no signal is read here).

    Raises
    ------
    DataError
        Missing file or columns, empty/duplicate record ids, empty patient ids,
        labels that are not 0/1, non-numeric tabular values, or bad fold values;
        the message names the file, the column and the offending lines.
    """
    csv = Path(cfg.path)
    df = _read_csv(cfg)
    rec = _record_ids(df, cfg, csv)
    labels = _labels(df, list(cfg.label_columns), csv)
    tabular = _tabular(df, list(cfg.tabular_columns), csv)
    root = Path(cfg.record_dir) if cfg.record_dir else csv.parent
    fold = _fold_column(df[cfg.fold_column], f"{csv}: column {cfg.fold_column!r}") \
        if cfg.fold_column else None
    return RecordTable(
        paths=[str(root / r) for r in rec],
        record_id=rec.to_numpy(dtype=str),
        patient_id=df[cfg.patient_column].str.strip().to_numpy(dtype=str),
        labels=labels,
        class_names=list(cfg.label_columns),
        tabular=tabular,
        tabular_names=list(cfg.tabular_columns),
        subgroups=df[cfg.subgroup_columns].reset_index(drop=True),
        predefined_fold=fold,
        source=source,
        expected_fs=expected_fs,
    )
