"""Scoring new records with a loaded bundle: one output row per record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ensembler.bundle.bundle import Bundle
from ensembler.bundle.records import LoadedRecords, RecordInput, collect_inputs, load_records


@dataclass
class Predictions:
    """``frame``: record, ``prob_<class>`` and ``decision_<class>`` (0/1) per scored record;
    ``failed``: (record, reason) of records that could not be read (``skip_bad``);
    ``missing_tabular``: tabular inputs no input provided (scored as missing)."""

    frame: pd.DataFrame
    failed: list[tuple[str, str]]
    missing_tabular: list[str]
    proba: np.ndarray


def score_loaded(bundle: Bundle, loaded: LoadedRecords) -> Predictions:
    proba = bundle.predict_proba(loaded.signals, loaded.tabular)
    decision = bundle.decide(proba)
    frame = pd.DataFrame({"record": loaded.record_id})
    for j, c in enumerate(bundle.class_names):
        frame[f"prob_{c}"] = proba[:, j]
    for j, c in enumerate(bundle.class_names):
        frame[f"decision_{c}"] = decision[:, j]
    return Predictions(frame, loaded.failed, loaded.missing_tabular, proba)


def predict_inputs(bundle: Bundle, inputs: Sequence[str | Path] | Sequence[RecordInput],
                   skip_bad: bool = False) -> Predictions:
    """Read, preprocess (as in training) and score records.

    ``inputs``: WFDB record paths, folders, CSV manifests (``record`` column plus optional
    tabular columns named as in ``bundle.tabular_names``), or ready RecordInputs.
    A bad record raises :class:`BadRecordError` naming it, unless ``skip_bad``.
    """
    if inputs and all(isinstance(i, RecordInput) for i in inputs):
        records = [i for i in inputs if isinstance(i, RecordInput)]
        missing: list[str] = []
    else:
        records, missing = collect_inputs([str(i) for i in inputs], bundle.tabular_names)
    loaded = load_records(records, bundle.preprocessing, bundle.tabular_names, skip_bad,
                          missing)
    return score_loaded(bundle, loaded)
