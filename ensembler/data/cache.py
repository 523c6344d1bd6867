"""Preprocessed-signal cache: one folder per fingerprint, built atomically.

Layout of ``<cache_root>/<fingerprint>/``::

    signals.npy     (N, leads, samples) float32 (or float16), opened as a read-only memmap
    labels.npy      (N, C) uint8
    tabular.npy     (N, F) float32, NaN where missing
    oracle_risk.npy (N, C) float64, synthetic cohorts only
    metadata.csv    record_id, patient_id, predefined_fold, path, subgroup columns
    skipped.csv     record, reason (records left out under ``on_bad_record: skip``)
    info.json       counts, class names, leads, fs, source facts, oracle AUCs

The folder is written under a temporary name and renamed at the end, so a
folder that exists is complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from ensembler.config import PreprocessingConfig
from ensembler.data.cohort import Cohort
from ensembler.data.leads import resolve_leads
from ensembler.data.preprocess import n_samples, preprocess_record
from ensembler.data.table import TEST_FOLD, RecordTable
from ensembler.data.wfdb_io import read_record
from ensembler.errors import BadRecordError, DataError
from ensembler.utils.atomic import atomic_dir, marked_by

CHUNK = 64


def _read_chunk(
    paths: list[str], spec: PreprocessingConfig, expected_fs: float | None
) -> list[np.ndarray | str]:
    """Read + preprocess records; a bad record becomes its error message (str)."""
    out: list[np.ndarray | str] = []
    for path in paths:
        try:
            sig, names, fs = read_record(path, expected_fs)
            out.append(preprocess_record(sig, names, fs, spec, record=path))
        except BadRecordError as exc:
            out.append(exc.reason)
    return out


def _chunks(table: RecordTable, spec: PreprocessingConfig, progress: bool) -> Iterator[Any]:
    starts = range(0, len(table), CHUNK)
    jobs = (delayed(_read_chunk)(table.paths[s:s + CHUNK], spec, table.expected_fs)
            for s in starts)
    results = Parallel(n_jobs=spec.n_jobs, return_as="generator")(jobs)
    if not progress:
        yield from results
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(f"caching {len(table)} records", total=len(table))
        for res in results:
            bar.advance(task, len(res))
            yield res


def _oracle_aucs(risk: np.ndarray, labels: np.ndarray, fold: np.ndarray | None) -> dict[str, Any]:
    from ensembler.data.synth.writer import oracle_auc

    test = np.zeros(len(labels), bool) if fold is None else fold == TEST_FOLD
    return {"oracle_auc_dev": oracle_auc(risk[~test], labels[~test]),
            "oracle_auc_test": oracle_auc(risk[test], labels[test]) if test.any() else None}


def build_cache(
    table: RecordTable, spec: PreprocessingConfig, cache_dir: Path, progress: bool = True
) -> None:
    """Read, check and preprocess every record of ``table`` into ``cache_dir`` (atomic).

    Raises
    ------
    BadRecordError
        The first bad record, when ``spec.on_bad_record == "error"``.
    DataError
        When every record is bad.
    """
    cache_dir = Path(cache_dir)
    leads = resolve_leads(spec.leads)
    shape = (len(table), len(leads), n_samples(spec))
    with atomic_dir(cache_dir, marked_by("info.json"), keep_existing=True) as tmp:
        # keep_existing: a cache built concurrently by another process is kept
        full = np.lib.format.open_memmap(tmp / "full.npy", "w+", np.float32, shape)
        ok, skipped = _read_records(table, spec, progress, full)
        keep = np.flatnonzero(ok)
        _write_signals(tmp, full, keep, spec.dtype)
        del full
        labels = table.labels[keep]
        _write_tables(tmp, table, keep, skipped)
        info = _info(table, spec, cache_dir.name, keep, len(skipped), leads, shape[2])
        if table.oracle_risk is not None:
            risk = table.oracle_risk[keep]
            np.save(tmp / "oracle_risk.npy", risk)
            fold = None if table.predefined_fold is None else table.predefined_fold[keep]
            info.update(_oracle_aucs(risk, labels, fold))
        (tmp / "info.json").write_text(json.dumps(info, indent=2))


def _read_records(table: RecordTable, spec: PreprocessingConfig, progress: bool,
                  full: np.ndarray) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Preprocess every record into ``full`` (N, leads, samples); (ok (N,), skipped
    (path, reason) pairs). A bad record raises or is skipped per ``spec.on_bad_record``."""
    ok = np.zeros(len(table), bool)
    skipped: list[tuple[str, str]] = []
    i = 0
    for res in _chunks(table, spec, progress):
        for item in res:
            if isinstance(item, str):
                if spec.on_bad_record == "error":
                    raise BadRecordError(table.paths[i], item)
                skipped.append((table.paths[i], item))
            else:
                full[i], ok[i] = item, True
            i += 1
    if not ok.any():
        raise DataError(f"all {len(table)} records are bad; see the reasons, e.g. "
                        f"{skipped[0][0]}: {skipped[0][1]}")
    return ok, skipped


def _write_signals(tmp: Path, full: np.memmap, keep: np.ndarray, dtype: str) -> None:
    """``signals.npy``: ``full.npy`` renamed, or compacted to the kept rows / float16."""
    full.flush()
    if len(keep) == full.shape[0] and dtype == "float32":
        os.replace(tmp / "full.npy", tmp / "signals.npy")
        return
    out = np.float16 if dtype == "float16" else np.float32
    sig = np.lib.format.open_memmap(tmp / "signals.npy", "w+", out, (len(keep), *full.shape[1:]))
    for s in range(0, len(keep), 1024):
        sig[s:s + 1024] = full[keep[s:s + 1024]]
    sig.flush()
    del sig
    (tmp / "full.npy").unlink()


def _write_tables(tmp: Path, table: RecordTable, keep: np.ndarray,
                  skipped: list[tuple[str, str]]) -> None:
    """Labels, tabular data, per-record metadata (ids, paths, fold, subgroups), skipped."""
    np.save(tmp / "labels.npy", table.labels[keep])
    np.save(tmp / "tabular.npy", table.tabular[keep].astype(np.float32))
    meta = pd.DataFrame({"record_id": table.record_id[keep],
                         "patient_id": table.patient_id[keep],
                         "path": [table.paths[k] for k in keep]})
    if table.predefined_fold is not None:
        meta["predefined_fold"] = table.predefined_fold[keep]
    sub = table.subgroups.iloc[keep].reset_index(drop=True)
    meta = pd.concat([meta, sub.add_prefix("subgroup:")], axis=1)
    meta.to_csv(tmp / "metadata.csv", index=False)
    pd.DataFrame(skipped, columns=["record", "reason"]).to_csv(tmp / "skipped.csv", index=False)


def _info(table: RecordTable, spec: PreprocessingConfig, fingerprint: str, keep: np.ndarray,
          n_skipped: int, leads: list[str], samples: int) -> dict[str, Any]:
    """The cache's ``info.json`` (without the oracle AUCs of a synthetic cohort)."""
    labels = table.labels[keep]
    info: dict[str, Any] = {
        "fingerprint": fingerprint, "source": table.source, "n_records": len(keep),
        "n_patients": len(np.unique(table.patient_id[keep])),
        "n_skipped_bad": n_skipped, "class_names": table.class_names,
        "positives": labels.sum(axis=0).astype(int).tolist(), "lead_names": leads,
        "fs": spec.fs, "n_samples": samples, "dtype": spec.dtype,
        "tabular_names": table.tabular_names,
        "subgroup_names": list(table.subgroups.columns),
        "preprocessing": spec.model_dump(mode="json"), **table.info,
    }
    if table.predefined_fold is not None:
        info["n_test_records"] = int((table.predefined_fold[keep] == TEST_FOLD).sum())
    return info


def open_cache(cache_dir: Path) -> Cohort:
    """Open a built cache as a Cohort (signals: read-only memmap)."""
    cache_dir = Path(cache_dir)
    info_path = cache_dir / "info.json"
    if not info_path.is_file():
        raise DataError(f"{cache_dir}: not a complete cache (no info.json)")
    info = json.loads(info_path.read_text())
    meta = pd.read_csv(cache_dir / "metadata.csv", dtype={"record_id": str, "patient_id": str},
                       keep_default_na=False)
    sub_cols = [c for c in meta.columns if c.startswith("subgroup:")]
    subgroups = meta[sub_cols].rename(columns=lambda c: c.split(":", 1)[1]).astype(str)
    oracle = cache_dir / "oracle_risk.npy"
    return Cohort(
        signals=np.load(cache_dir / "signals.npy", mmap_mode="r"),
        labels=np.load(cache_dir / "labels.npy"),
        class_names=list(info["class_names"]),
        patient_id=meta["patient_id"].to_numpy(dtype=str),
        record_id=meta["record_id"].to_numpy(dtype=str),
        fs=float(info["fs"]),
        lead_names=list(info["lead_names"]),
        tabular=np.load(cache_dir / "tabular.npy"),
        tabular_names=list(info["tabular_names"]),
        subgroups=subgroups.reset_index(drop=True),
        predefined_fold=meta["predefined_fold"].to_numpy(np.int64)
        if "predefined_fold" in meta.columns else None,
        fingerprint=str(info["fingerprint"]),
        oracle_risk=np.load(oracle) if oracle.is_file() else None,
        source_path=meta["path"].to_numpy(dtype=str) if "path" in meta.columns else None,
    )
