"""The record table every source builds before any signal is read.

A source (PTB-XL, a manifest, the synthetic cohort) resolves its labels and
metadata into a :class:`RecordTable`; the cache then reads the listed record
files. The table's content plus the record files' headers and sizes form the cache key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Value of ``predefined_fold`` that marks the held-out test set.
TEST_FOLD = -1
#: Value of ``predefined_fold`` for a development record without a predefined dev fold
#: (a blank fold in a manifest): the splitter assigns its fold.
DEV_FOLD = -2


@dataclass
class RecordTable:
    """Labels and metadata of the records a source provides (no signals yet).

    Attributes
    ----------
    paths : list of N record paths without extension
    record_id, patient_id : ndarray of shape (N,), str
    labels : ndarray of shape (N, C), uint8
    class_names : list of str, length C
    tabular : ndarray of shape (N, F), float32, NaN where missing
    tabular_names : list of str, length F
    subgroups : DataFrame with N rows
    predefined_fold : ndarray (N,) int or None; ``TEST_FOLD`` (-1) marks test rows,
        ``DEV_FOLD`` (-2) development rows without a predefined dev fold
    oracle_risk : ndarray (N, C) float or None (synthetic cohorts)
    source : "ptbxl", "wfdb" or "synthetic"
    expected_fs : sampling rate the source declares (records must match), or None
    info : extra facts for info.json (e.g. rows skipped for missing files)
    """

    paths: list[str]
    record_id: np.ndarray
    patient_id: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    tabular: np.ndarray
    tabular_names: list[str]
    subgroups: pd.DataFrame
    predefined_fold: np.ndarray | None = None
    oracle_risk: np.ndarray | None = None
    source: str = "wfdb"
    expected_fs: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paths)

    def fingerprint(self, preprocessing: dict[str, Any]) -> str:
        """SHA-256 (first 16 hex) of the table, the record files and the config.

        Each record counts by its header's content (a WFDB header carries a checksum of
        every signal's samples) and its data file's size. Where the files sit and their
        modification times do not count, so a copy of the same data elsewhere, or one
        re-synced without keeping timestamps, keeps its cache and the trained models keyed
        on it; any rewrite of a record's samples changes its header checksum or its size.
        Data files are not read (hashing every sample would cost seconds per command on a
        large cohort).
        """
        h = hashlib.sha256()
        h.update(b"ensembler-cache-v2")
        h.update(json.dumps(preprocessing, sort_keys=True, default=str).encode())
        h.update(json.dumps([self.source, self.expected_fs, self.class_names,
                             self.tabular_names], default=str).encode())
        for arr in (self.record_id, self.patient_id):
            h.update("\x1f".join(map(str, arr)).encode())
        h.update(np.ascontiguousarray(self.labels).tobytes())
        h.update(np.ascontiguousarray(self.tabular, dtype=np.float32).tobytes())
        h.update(self.subgroups.to_csv(index=False).encode())
        if self.predefined_fold is not None:
            h.update(np.asarray(self.predefined_fold, dtype=np.int64).tobytes())
        if self.oracle_risk is not None:
            h.update(np.asarray(self.oracle_risk, dtype=np.float64).tobytes())
        for path in self.paths:
            h.update(_record_key(path))
        return h.hexdigest()[:16]


def _record_key(path: str) -> bytes:
    """A record's part of the cache key: its header's bytes and its data file's size."""
    out = []
    try:
        out.append(hashlib.sha256(Path(path + ".hea").read_bytes()).hexdigest())
    except OSError:
        out.append("hea:missing")
    try:
        out.append(str(Path(path + ".dat").stat().st_size))
    except OSError:
        out.append("dat:missing")
    return (";".join(out) + "\x1e").encode()
