"""Prediction inputs: WFDB record paths, folders or a CSV manifest, preprocessed as in training.

Each record is read with the data layer's ``read_record`` and turned into the model
input with ``preprocess_full`` under the bundle's stored preprocessing spec
(resampling when the sampling rate differs, leads matched by name, limb leads
derived from I and II, band-pass); its length is then fitted to the trained duration
by the rule of :mod:`ensembler.bundle.lengths`, and it is screened for signal quality
and limb-lead reversal (:mod:`ensembler.bundle.quality`). All are per-record pure
functions, so a record gives the same input alone as inside a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ensembler.bundle.lengths import LengthPolicy, fit_record
from ensembler.bundle.quality import RecordQuality, assess
from ensembler.config import PreprocessingConfig
from ensembler.data.leads import resolve_leads
from ensembler.data.preprocess import n_samples, preprocess_full
from ensembler.data.wfdb_io import read_record
from ensembler.errors import BadRecordError, DataError

RECORD_COLUMN = "record"


@dataclass
class RecordInput:
    """One record to score: its id (as the user named it), file path and tabular values."""

    record_id: str
    path: Path
    tabular: dict[str, float] = field(default_factory=dict)


@dataclass
class LoadedRecords:
    """Preprocessed inputs of the records that could be read, and those that could not.

    ``signals`` (W, leads, samples) float32: the windows to score, W >= n_ok (one per
    record unless sliding windows); ``owner`` (W,) the record index of each window;
    ``tabular`` (n_ok, F) float32 with NaN for unknown values, or None when the bundle
    takes no tabular input; ``failed`` lists (record id, reason); per record:
    ``duration_s`` (its own length), ``length`` (the length rule applied) and
    ``quality`` (None when not screened).
    """

    record_id: list[str]
    signals: np.ndarray
    tabular: np.ndarray | None
    failed: list[tuple[str, str]]
    missing_tabular: list[str]
    owner: np.ndarray
    duration_s: list[float]
    length: list[str]
    quality: list[RecordQuality | None]


def read_csv_inputs(csv: Path, tabular_names: Sequence[str]) -> list[RecordInput]:
    """Rows of a CSV manifest: ``record`` (relative to the CSV's folder) + optional tabular."""
    try:
        df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{csv}: not a readable CSV manifest ({exc})") from None
    if RECORD_COLUMN not in df.columns:
        raise DataError(f"{csv}: needs a {RECORD_COLUMN!r} column; has {list(df.columns)}")
    out = []
    for i, row in df.iterrows():
        rec = str(row[RECORD_COLUMN]).strip()
        if not rec:
            raise DataError(f"{csv}: empty {RECORD_COLUMN!r} at line {int(str(i)) + 2}")
        values: dict[str, float] = {}
        for name in tabular_names:
            if name in df.columns and str(row[name]).strip() != "":
                try:
                    values[name] = float(row[name])
                except ValueError:
                    raise DataError(f"{csv}: column {name!r} at line {int(str(i)) + 2} is not "
                                    f"numeric: {row[name]!r}") from None
        out.append(RecordInput(rec, csv.parent / rec, values))
    return out


def collect_inputs(inputs: Sequence[str | Path], tabular_names: Sequence[str] = ()
                   ) -> tuple[list[RecordInput], list[str]]:
    """Expand INPUT arguments into records; returns (records, tabular columns never given).

    A ``.csv`` is a manifest; a folder contributes every ``*.hea`` below it (sorted);
    anything else is a record path with or without ``.hea``/``.dat``.
    """
    records: list[RecordInput] = []
    seen_columns: set[str] = set()
    for item in inputs:
        p = Path(item)
        if p.suffix.lower() == ".csv":
            if not p.is_file():
                raise DataError(f"manifest not found: {p}")
            rows = read_csv_inputs(p, tabular_names)
            header = pd.read_csv(p, nrows=0).columns
            seen_columns |= {c for c in tabular_names if c in header}
            records += rows
        elif p.is_dir():
            heads = sorted(p.rglob("*.hea"))
            if not heads:
                raise DataError(f"{p}: folder holds no WFDB header (*.hea)")
            records += [RecordInput(str(h.with_suffix("")), h.with_suffix("")) for h in heads]
        else:
            base = p.with_suffix("") if p.suffix in (".hea", ".dat") else p
            records.append(RecordInput(str(base), base))
    ids = [r.record_id for r in records]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise DataError(f"record(s) given more than once: {dup[:5]}")
    return records, [c for c in tabular_names if c not in seen_columns]


def prediction_spec(spec: PreprocessingConfig) -> PreprocessingConfig:
    """The training spec without the source-rate check: other rates are resampled."""
    return spec.model_copy(update={"source_fs": None})


@dataclass
class LoadedRecord:
    """One record fitted to the trained duration: (W, leads, samples) windows + facts."""

    windows: np.ndarray
    duration_s: float
    length: str
    quality: RecordQuality | None


def load_one(rec: RecordInput, spec: PreprocessingConfig,
             policy: LengthPolicy = LengthPolicy(), screen: bool = True) -> LoadedRecord:
    """Read, preprocess, fit the length and screen one record; BadRecordError names it."""
    pspec = prediction_spec(spec)
    try:
        signal, leads, fs = read_record(rec.path)
        full = preprocess_full(signal, leads, fs, pspec, record=rec.record_id)
    except BadRecordError as exc:
        raise BadRecordError(rec.record_id, exc.reason) from None
    except (TypeError, ValueError, IndexError, OSError) as exc:  # malformed header internals
        raise BadRecordError(rec.record_id, f"unreadable record ({exc})") from None
    windows, label, scored = fit_record(full, n_samples(pspec), pspec.fs, rec.record_id, policy)
    quality = assess(scored, pspec.fs, resolve_leads(pspec.leads)) if screen else None
    return LoadedRecord(windows, signal.shape[0] / fs, label, quality)


def load_records(records: Sequence[RecordInput], spec: PreprocessingConfig,
                 tabular_names: Sequence[str], skip_bad: bool = False,
                 missing_tabular: Sequence[str] = (), policy: LengthPolicy = LengthPolicy(),
                 screen: bool = True) -> LoadedRecords:
    """Read and preprocess ``records``; a bad one raises unless ``skip_bad`` (then listed)."""
    ok_ids, loaded, tabs, failed = [], [], [], []
    for rec in records:
        try:
            loaded.append(load_one(rec, spec, policy, screen))
        except BadRecordError as exc:
            if not skip_bad:
                raise
            failed.append((rec.record_id, exc.reason))
            continue
        ok_ids.append(rec.record_id)
        tabs.append([rec.tabular.get(n, np.nan) for n in tabular_names])
    n_leads = len(spec.leads) if spec.leads else 12
    signals = np.concatenate([r.windows for r in loaded]) if loaded else \
        np.zeros((0, n_leads, n_samples(spec)), np.float32)
    owner = np.concatenate([np.full(len(r.windows), i) for i, r in enumerate(loaded)]) \
        if loaded else np.zeros(0, np.int64)
    tab = np.asarray(tabs, np.float32).reshape(len(ok_ids), len(tabular_names)) \
        if tabular_names else None
    return LoadedRecords(ok_ids, signals.astype(np.float32, copy=False), tab, failed,
                         list(missing_tabular), owner.astype(np.int64),
                         [r.duration_s for r in loaded], [r.length for r in loaded],
                         [r.quality for r in loaded])
