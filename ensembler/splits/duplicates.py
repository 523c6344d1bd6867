"""Find identical or near-identical recordings filed under different patient ids.

Exact duplicates: SHA-1 of the signal quantised to 10 µV. Near duplicates: Pearson
correlation >= ``threshold`` between signals average-pooled to 10 Hz (computed
blockwise as a matrix product of z-scored vectors). Only pairs that sit in
different folds (dev/test included) and have different patient ids are
reported: those are the pairs that leak across the split.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ensembler.data.cohort import Cohort
from ensembler.errors import SplitError

BLOCK = 1024


@dataclass(frozen=True)
class DuplicatePair:
    """Two records that look like the same recording (indices into the cohort)."""

    i: int
    j: int
    record_i: str
    record_j: str
    patient_i: str
    patient_j: str
    fold_i: int
    fold_j: int
    kind: Literal["exact", "near"]
    corr: float


def _pooled(signals: np.ndarray, fs: float) -> np.ndarray:
    """Z-scored, 10 Hz average-pooled vectors (N, leads * samples / w), float32."""
    w = max(1, round(fs / 10))
    out = []
    for s in range(0, len(signals), BLOCK):
        x = np.asarray(signals[s:s + BLOCK], np.float32)
        t = (x.shape[2] // w) * w
        v = x[:, :, :t].reshape(len(x), x.shape[1], t // w, w).mean(axis=3).reshape(len(x), -1)
        v = v - v.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(v, axis=1, keepdims=True)
        out.append(v / np.where(norm > 0, norm, 1.0))
    return np.concatenate(out)


def _similar_pairs(cohort: Cohort, threshold: float) -> dict[tuple[int, int], tuple[str, float]]:
    """Every record pair ``(i, j)``, i < j, that is identical after rounding to 0.01
    (``("exact", 1.0)``) or whose pooled signals correlate at ``threshold`` or more
    (``("near", r)``), whatever their patients and folds."""
    found: dict[tuple[int, int], tuple[str, float]] = {}
    by_hash: dict[str, int] = {}
    for i in range(len(cohort)):
        q = np.round(np.asarray(cohort.signals[i], np.float32) * 100).astype(np.int32)
        key = hashlib.sha1(q.tobytes()).hexdigest()
        if key in by_hash:
            found[(by_hash[key], i)] = ("exact", 1.0)
        else:
            by_hash[key] = i
    v = _pooled(cohort.signals, cohort.fs)
    for s in range(0, len(v), BLOCK):
        corr = v[s:s + BLOCK] @ v.T  # (block, N)
        rows, cols = np.nonzero(corr >= threshold)
        for a, b in zip(rows + s, cols, strict=True):
            if a < b and (a, b) not in found:
                found[(int(a), int(b))] = ("near", float(corr[a - s, b]))
    return found


def find_duplicate_recordings(
    cohort: Cohort,
    fold: np.ndarray,
    mode: Literal["warn", "refuse", "off"] = "warn",
    threshold: float = 0.99,
) -> list[DuplicatePair]:
    """Report (near-)identical recordings of different patients in different folds.

    Parameters
    ----------
    cohort : the cohort (signals (N, leads, samples))
    fold : ndarray (N,) int, -1 for test
    mode : ``"warn"`` emits a UserWarning and returns the pairs, ``"refuse"`` raises,
        ``"off"`` returns ``[]`` without looking
    threshold : correlation at or above which two recordings are near duplicates

    Returns
    -------
    list of DuplicatePair, sorted by (i, j)

    Raises
    ------
    SplitError
        With ``mode="refuse"`` when any pair is found (the message names them).
    """
    if mode == "off":
        return []
    fold = np.asarray(fold)
    pid = np.asarray(cohort.patient_id).astype(str)
    rid = np.asarray(cohort.record_id).astype(str)
    found = _similar_pairs(cohort, threshold)
    pairs = [
        DuplicatePair(i, j, rid[i], rid[j], pid[i], pid[j], int(fold[i]), int(fold[j]),
                      kind, c)  # type: ignore[arg-type]
        for (i, j), (kind, c) in sorted(found.items())
        if pid[i] != pid[j] and fold[i] != fold[j]
    ]
    if pairs:
        shown = ", ".join(f"{p.record_i}/{p.record_j} ({p.kind}, patients {p.patient_i} vs "
                          f"{p.patient_j}, folds {p.fold_i} vs {p.fold_j})" for p in pairs[:5])
        msg = f"{len(pairs)} recording pair(s) duplicated across folds under different " \
              f"patient ids: {shown}"
        if mode == "refuse":
            raise SplitError(msg + " (split.duplicate_check: refuse)")
        warnings.warn(msg, UserWarning, stacklevel=2)
    return pairs
