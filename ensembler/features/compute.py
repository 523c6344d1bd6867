"""Compute a feature set for a whole cohort: parallel, with progress, cached by fingerprint.

Layout of ``<cache_root>/features-<key>/`` (``key`` hashes the cohort fingerprint, the
feature-set spec, the sampling rate, the lead names and the neurokit2 version)::

    values.npy   (N, F) float32, NaN where not measurable
    info.json    columns, feature-set spec, library versions, CPU ms per ECG

The folder is written under a temporary name and renamed at the end, so a folder that
exists is complete; a cohort without a fingerprint is computed but not cached.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed

from ensembler.data.cohort import Cohort
from ensembler.features.registry import FeatureSet
from ensembler.utils.atomic import atomic_dir, marked_by
from ensembler.utils.hashing import fingerprint

CHUNK = 32


@dataclass(frozen=True)
class FeatureTable:
    """Features of every record of a cohort, in the cohort's row order."""

    values: np.ndarray  # (N, F) float32
    columns: list[str]
    spec: dict[str, Any]
    versions: dict[str, str]
    cpu_ms_per_ecg: float  # mean process CPU time per ECG when it was computed


def library_versions() -> dict[str, str]:
    """Versions of the libraries the features depend on (pinned in the manifest/cache key)."""
    return {lib: version(lib) for lib in ("neurokit2", "scipy", "numpy")}


def feature_rows(fset: FeatureSet, signals: np.ndarray, fs: float,
                 leads: Sequence[str]) -> np.ndarray:
    """``(N, F)`` float32 features of preprocessed ``signals`` (N, leads, samples).

    The one path from signals to feature values: the cohort cache (training) and a
    bundle's feature members (predict, evaluate) both call it, so they agree bit for bit.
    """
    if not len(signals):
        return np.zeros((0, len(fset.columns(leads))), np.float32)
    rows = np.stack([fset.compute(np.asarray(s, np.float64), fs, leads) for s in signals])
    return rows.astype(np.float32)


def _chunk(fset: FeatureSet, signals: np.ndarray, fs: float,
           leads: Sequence[str]) -> tuple[np.ndarray, float]:
    t0 = time.process_time()
    rows = feature_rows(fset, signals, fs, leads)
    return rows, time.process_time() - t0


def _chunks(fset: FeatureSet, cohort: Cohort, n_jobs: int, progress: bool) -> Iterator[Any]:
    starts = range(0, len(cohort), CHUNK)
    jobs = (delayed(_chunk)(fset, np.asarray(cohort.signals[s : s + CHUNK]), cohort.fs,
                            cohort.lead_names) for s in starts)  # fmt: skip
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    if not progress:
        yield from results
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(f"features ({fset.name}) of {len(cohort)} ECGs", total=len(cohort))
        for rows, cpu in results:
            bar.advance(task, len(rows))
            yield rows, cpu


def _compute(fset: FeatureSet, cohort: Cohort, n_jobs: int, progress: bool) -> FeatureTable:
    columns = fset.columns(cohort.lead_names)
    parts, cpu = [], 0.0
    for rows, seconds in _chunks(fset, cohort, n_jobs, progress):
        parts.append(rows)
        cpu += seconds
    values = np.concatenate(parts) if parts else np.zeros((0, len(columns)), np.float32)
    return FeatureTable(values.astype(np.float32), columns, fset.spec(), library_versions(),
                        1000.0 * cpu / max(len(cohort), 1))  # fmt: skip


def feature_key(fset: FeatureSet, cohort: Cohort) -> str:
    """Cache key of (cohort fingerprint, feature-set spec, fs, leads, library versions)."""
    return fingerprint({"cohort": cohort.fingerprint, "spec": fset.spec(), "fs": cohort.fs,
                        "leads": list(cohort.lead_names), "versions": library_versions()})


def compute_features(fset: FeatureSet, cohort: Cohort, cache_root: Path | None = None,
                     n_jobs: int = 1, progress: bool = False) -> FeatureTable:
    """Features ``(N, F)`` of every record of ``cohort``, read from or written to the cache.

    Parallel over chunks of records with joblib (``n_jobs``), a rich progress bar when
    ``progress``. Nothing is cached without ``cache_root`` or a cohort fingerprint.
    """
    if cache_root is None or not cohort.fingerprint:
        return _compute(fset, cohort, n_jobs, progress)
    folder = Path(cache_root) / f"features-{feature_key(fset, cohort)}"
    if (folder / "info.json").exists():
        info = json.loads((folder / "info.json").read_text())
        values = np.load(folder / "values.npy", allow_pickle=False)
        return FeatureTable(values, info["columns"], info["spec"], info["versions"],
                            info["cpu_ms_per_ecg"])  # fmt: skip
    table = _compute(fset, cohort, n_jobs, progress)
    # keep_existing: the same content-addressed folder written concurrently is kept
    with atomic_dir(folder, marked_by("info.json"), keep_existing=True) as tmp:
        np.save(tmp / "values.npy", table.values, allow_pickle=False)
        info = {"columns": table.columns, "spec": table.spec, "versions": table.versions,
                "cpu_ms_per_ecg": table.cpu_ms_per_ecg, "n_records": len(cohort)}
        (tmp / "info.json").write_text(json.dumps(info, indent=2))
    return table
