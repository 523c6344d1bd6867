"""Scoring new records with a loaded bundle: one output row per record, with its flags.

Besides ``prob_<class>`` and ``decision_<class>``, every row says how the record was
handled, so that no prediction is silently made on something else than what the
bundle was trained on:

- ``duration_s``, ``length``: the record's own duration and the length rule applied
  (``as trained``, ``cropped``, ``padded``, ``sliding windows (n)``; see
  :mod:`ensembler.bundle.lengths`);
- ``imputed``: the tabular inputs imputed for this record (``--impute-missing-tabular``;
  see :mod:`ensembler.bundle.imputation`), empty when none;
- ``quality_index``, ``poor_quality``, ``quality_note``: the signal-quality screen and
  ``lead_reversal``: the LA/RA reversal screen (:mod:`ensembler.bundle.quality`);
- ``flagged``: 1 when any of the above departs from a clean, complete, trained-length
  record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ensembler.bundle.bundle import Bundle
from ensembler.bundle.conformal_io import conformal_columns
from ensembler.bundle.imputation import imputed_labels, missing_mask, require_tabular
from ensembler.bundle.lengths import AS_TRAINED, LengthPolicy
from ensembler.bundle.records import LoadedRecords, RecordInput, collect_inputs, load_records

FLAG_COLUMNS = ("duration_s", "length", "imputed", "quality_index", "poor_quality",
                "quality_note", "lead_reversal", "flagged")


@dataclass
class Predictions:
    """``frame``: record, ``prob_<class>``, ``decision_<class>`` (0/1) and the flag columns
    (``FLAG_COLUMNS``) per scored record; ``failed``: (record, reason) of records that
    could not be read (``skip_bad``); ``missing_tabular``: tabular inputs no input
    provided; ``proba`` (n_ok, C)."""

    frame: pd.DataFrame
    failed: list[tuple[str, str]]
    missing_tabular: list[str]
    proba: np.ndarray


def _flags(bundle: Bundle, loaded: LoadedRecords, imputed: np.ndarray) -> pd.DataFrame:
    q = loaded.quality
    frame = pd.DataFrame({
        "duration_s": np.round(loaded.duration_s, 3),
        "length": loaded.length,
        "imputed": imputed_labels(imputed, bundle.tabular_names) if imputed.size
        else [""] * len(loaded.record_id),
        "quality_index": [np.nan if r is None else round(r.index, 3) for r in q],
        "poor_quality": [0 if r is None else int(r.poor) for r in q],
        "quality_note": ["not screened" if r is None else r.reason for r in q],
        "lead_reversal": [0 if r is None else int(r.lead_reversal) for r in q],
    })
    frame["flagged"] = ((frame["length"] != AS_TRAINED) | (frame["imputed"] != "")
                        | (frame["poor_quality"] == 1) | (frame["lead_reversal"] == 1)
                        ).astype(int)
    return frame


def score_loaded(bundle: Bundle, loaded: LoadedRecords, missing: str = "error") -> Predictions:
    """Score loaded records; ``missing``: policy for missing tabular values (see
    :mod:`ensembler.bundle.imputation`); DataError names the records under ``error``."""
    n = len(loaded.record_id)
    tab = loaded.tabular
    imputed = np.zeros((n, 0), bool)
    if tab is not None:
        imputed = missing_mask(tab, n, tab.shape[1])
        require_tabular(loaded.record_id, imputed, bundle.tabular_names, missing)
        if missing != "impute":
            imputed = np.zeros_like(imputed)
    win_tab = None if tab is None else tab[loaded.owner]
    per_window = bundle.predict_proba(loaded.signals, win_tab, missing=missing)
    proba = np.zeros((n, len(bundle.class_names)))
    np.add.at(proba, loaded.owner, per_window)
    proba /= np.maximum(np.bincount(loaded.owner, minlength=n), 1)[:, None]
    decision = bundle.decide(proba)
    frame = pd.DataFrame({"record": loaded.record_id})
    for j, c in enumerate(bundle.class_names):
        frame[f"prob_{c}"] = proba[:, j]
    for j, c in enumerate(bundle.class_names):
        frame[f"decision_{c}"] = decision[:, j]
    frame = pd.concat([frame, _flags(bundle, loaded, imputed),
                       conformal_columns(bundle.manifest, proba)], axis=1)
    return Predictions(frame, loaded.failed, loaded.missing_tabular, proba)


def predict_inputs(bundle: Bundle, inputs: Sequence[str | Path] | Sequence[RecordInput],
                   skip_bad: bool = False, missing: str = "error",
                   policy: LengthPolicy = LengthPolicy(), screen: bool = True) -> Predictions:
    """Read, preprocess (as in training) and score records.

    ``inputs``: WFDB record paths, folders, CSV manifests (``record`` column plus
    tabular columns named as in ``bundle.tabular_names``), or ready RecordInputs.
    A bad record raises :class:`BadRecordError` naming it, unless ``skip_bad``.
    ``missing``: ``error`` (default: records without a required tabular value raise
    DataError naming them and the columns), ``impute`` or ``as-trained``;
    ``policy``: the length rule (sliding windows, padding of short records);
    ``screen``: run the signal-quality and lead-reversal screen.
    """
    if inputs and all(isinstance(i, RecordInput) for i in inputs):
        records = [i for i in inputs if isinstance(i, RecordInput)]
        absent: list[str] = []
    else:
        records, absent = collect_inputs([str(i) for i in inputs], bundle.tabular_names)
    loaded = load_records(records, bundle.preprocessing, bundle.tabular_names, skip_bad,
                          absent, policy, screen)
    return score_loaded(bundle, loaded, missing)
