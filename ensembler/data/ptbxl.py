"""PTB-XL in its release layout (``ptbxl_database.csv``, ``scp_statements.csv``, records).

Label aggregation follows the PTB-XL benchmark (Strodthoff et al. 2021): every
``scp_code`` of a record counts, with no likelihood threshold; for the
diagnostic levels only statements with ``diagnostic == 1`` are used, mapped to
their ``diagnostic_class`` (superdiagnostic) or ``diagnostic_subclass``.
Records with no label of the chosen task are dropped. Presence is decided by
the record files, not the CSV, so a partial copy works.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ensembler.config import PreprocessingConfig, PTBXLConfig
from ensembler.config.data import PTBXL_TABULAR
from ensembler.data.table import TEST_FOLD, RecordTable
from ensembler.errors import ConfigError, DataError

SUPERCLASSES = ("NORM", "MI", "STTC", "CD", "HYP")
AGE_BANDS = ((0, 40, "<40"), (40, 60, "40-59"), (60, 80, "60-79"), (80, 200, "80+"))


def ptbxl_root(cfg: PTBXLConfig) -> Path:
    """``cfg.path`` or ``$ENSEMBLER_PTBXL_DIR``; ConfigError if neither names a PTB-XL folder."""
    raw = cfg.path or os.environ.get("ENSEMBLER_PTBXL_DIR")
    if not raw:
        raise ConfigError("data.ptbxl.path: not set and $ENSEMBLER_PTBXL_DIR is unset; "
                          "point one of them at the PTB-XL folder")
    root = Path(raw)
    for name in ("ptbxl_database.csv", "scp_statements.csv"):
        if not (root / name).is_file():
            raise ConfigError(f"data.ptbxl.path: {root} has no {name} (not a PTB-XL folder)")
    return root


def read_tables(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The database (indexed by ecg_id, ``scp_codes`` parsed to dicts) and statements tables."""
    db = pd.read_csv(root / "ptbxl_database.csv", index_col="ecg_id")
    try:
        db["scp_codes"] = db["scp_codes"].map(ast.literal_eval)
    except (ValueError, SyntaxError) as exc:
        raise DataError(f"{root / 'ptbxl_database.csv'}: bad scp_codes entry: {exc}") from None
    scp = pd.read_csv(root / "scp_statements.csv", index_col=0)
    return db, scp


def _code_sets(scp: pd.DataFrame, task: str) -> dict[str, str]:
    """scp_code -> label name for a multi-label task."""
    if task in ("superdiagnostic", "subdiagnostic"):
        col = "diagnostic_class" if task == "superdiagnostic" else "diagnostic_subclass"
        diag = scp[scp["diagnostic"] == 1]
        return {str(code): str(v) for code, v in diag[col].items() if pd.notna(v)}
    if task in ("diagnostic", "form", "rhythm"):
        return {code: str(code) for code in scp.index[scp[task] == 1]}
    if task == "all":
        return {str(code): str(code) for code in scp.index}
    raise ConfigError(f"data.ptbxl.task: unknown task {task!r}")


def ptbxl_labels(
    db: pd.DataFrame, scp: pd.DataFrame, task: str, binary_label: str | None = None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Label matrix of a PTB-XL task.

    Returns
    -------
    labels : ndarray (n_kept, C) uint8
    class_names : list of C names (superdiagnostic: NORM, MI, STTC, CD, HYP)
    keep : bool ndarray (len(db),), rows that have at least one label of the task
        (binary tasks keep the rows of the level ``binary_label`` belongs to)
    """
    if task == "binary":
        if not binary_label:
            raise ConfigError("data.ptbxl.binary_label: required when task is 'binary'")
        for level in ("superdiagnostic", "subdiagnostic", "all"):
            mapping = _code_sets(scp, level)
            if binary_label in set(mapping.values()):
                labels, names, keep = ptbxl_labels(db, scp, level)
                col = labels[:, names.index(binary_label)]
                return col[:, None], [binary_label], keep
        raise ConfigError(f"data.ptbxl.binary_label: {binary_label!r} is not a PTB-XL "
                          "superclass, subclass or scp code")
    mapping = _code_sets(scp, task)
    sets = [{mapping[c] for c in codes if c in mapping} for codes in db["scp_codes"]]
    if task == "superdiagnostic":
        names = list(SUPERCLASSES)
    else:
        names = sorted(set().union(*sets))
    index_of = {n: j for j, n in enumerate(names)}
    keep = np.array([bool(s) for s in sets])
    labels = np.zeros((int(keep.sum()), len(names)), np.uint8)
    for i, names_i in enumerate(s for s in sets if s):
        labels[i, [index_of[n] for n in names_i]] = 1
    return labels, names, keep


def _records_folder(root: Path, cfg: PTBXLConfig, spec: PreprocessingConfig) -> tuple[str, float]:
    has100, has500 = (root / "records100").is_dir(), (root / "records500").is_dir()
    choice = cfg.records
    if choice == "auto":
        choice = "records500" if (spec.fs > 100 and has500) or not has100 else "records100"
    if not (root / choice).is_dir():
        raise ConfigError(f"data.ptbxl.records: {root / choice} does not exist")
    return choice, 100.0 if choice == "records100" else 500.0


def load_ptbxl_table(cfg: PTBXLConfig, spec: PreprocessingConfig) -> RecordTable:
    """Build the PTB-XL record table: labels, tabular, subgroups, ``strat_fold``.

    ``predefined_fold`` is ``strat_fold`` with the test fold replaced by -1: fold 10
    when its records are present, else fold 9 (the shared partial copy).
    """
    root = ptbxl_root(cfg)
    db, scp = read_tables(root)
    folder, fs = _records_folder(root, cfg, spec)
    column = "filename_lr" if folder == "records100" else "filename_hr"
    paths = [str(root / f) for f in db[column]]
    present = np.array([Path(p + ".hea").is_file() and Path(p + ".dat").is_file()
                        for p in paths])
    n_missing = int((~present).sum())
    if not present.any():
        raise DataError(f"{root / folder}: no record files found for any CSV row")
    db = db[present]
    paths = [p for p, ok in zip(paths, present, strict=True) if ok]
    labels, names, keep = ptbxl_labels(db, scp, cfg.task, cfg.binary_label)
    n_unlabelled = int((~keep).sum())
    db = db[keep]
    paths = [p for p, ok in zip(paths, keep, strict=True) if ok]
    if cfg.min_count > 0:
        ok = labels.sum(axis=0) >= cfg.min_count
        labels, names = labels[:, ok], [n for n, k in zip(names, ok, strict=True) if k]
    age = db["age"].to_numpy(dtype=np.float32)
    age = np.where(age >= 300, 90.0, age).astype(np.float32)  # 300 codes "90 or older"
    pace = db["pacemaker"].astype("string").fillna("").str.contains("ja|pace", case=False)
    tabular = np.stack([age, db["sex"].to_numpy(np.float32), db["height"].to_numpy(np.float32),
                        db["weight"].to_numpy(np.float32), pace.to_numpy(np.float32)], axis=1)
    folds = db["strat_fold"].to_numpy(np.int64)
    test_fold = 10 if (folds == 10).any() else 9
    folds = np.where(folds == test_fold, TEST_FOLD, folds)
    return RecordTable(
        paths=paths,
        record_id=np.array([str(i) for i in db.index]),
        patient_id=np.array([str(int(p)) for p in db["patient_id"]]),
        labels=labels,
        class_names=names,
        tabular=tabular,
        tabular_names=list(PTBXL_TABULAR),
        subgroups=pd.DataFrame({
            "sex": np.where(db["sex"].to_numpy() == 1, "female", "male"),
            "age_band": age_band(age),
            "paced": np.where(pace.to_numpy(), "paced", "not paced"),
        }),
        predefined_fold=folds if cfg.use_strat_fold else None,
        source="ptbxl",
        expected_fs=fs,
        info={"records_folder": folder, "rows_in_csv": len(present),
              "rows_skipped_missing_files": n_missing,
              "rows_dropped_no_label": n_unlabelled, "test_strat_fold": test_fold},
    )


def age_band(age: np.ndarray) -> np.ndarray:
    """Age bands ``<40``, ``40-59``, ``60-79``, ``80+`` (``unknown`` for NaN), shape (N,)."""
    out = np.full(age.shape, "unknown", dtype=object)
    for lo, hi, name in AGE_BANDS:
        out[(age >= lo) & (age < hi)] = name
    return out.astype(str)
