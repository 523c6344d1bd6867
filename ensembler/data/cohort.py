"""The in-memory cohort every data source produces (see DESIGN.md, "Data contracts")."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Standard 12-lead order used everywhere in ensembler.
STANDARD_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)


@dataclass
class Cohort:
    """A set of preprocessed ECGs with labels and patient metadata.

    Attributes
    ----------
    signals : ndarray of shape (N, leads, samples), float32 (often a read-only memmap)
        Preprocessed signals in mV, leads in ``lead_names`` order.
    labels : ndarray of shape (N, C), {0, 1} as uint8
        C == 1 for a binary task, C > 1 for multi-label.
    class_names : list of str, length C
    patient_id : ndarray of shape (N,), str
    record_id : ndarray of shape (N,), str
    fs : float
        Sampling rate of ``signals`` in Hz.
    lead_names : list of str, length ``leads``
    tabular : ndarray of shape (N, F), float32, NaN where missing
    tabular_names : list of str, length F
    subgroups : DataFrame with N rows (sex, age_band, paced, ...), index 0..N-1
    predefined_fold : ndarray of shape (N,), int, or None
        A fold assignment shipped with the data (PTB-XL ``strat_fold``); ``None`` if absent.
    fingerprint : str
        Content hash of the source data and preprocessing config (cache key).
    source_path : ndarray of shape (N,), str, or None
        Each record's source file (the WFDB record path), so later stages (the bundle's
        parity check) never re-read the data source to find it.
    """

    signals: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    patient_id: np.ndarray
    record_id: np.ndarray
    fs: float
    lead_names: list[str] = field(default_factory=lambda: list(STANDARD_LEADS))
    tabular: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    tabular_names: list[str] = field(default_factory=list)
    subgroups: pd.DataFrame = field(default_factory=pd.DataFrame)
    predefined_fold: np.ndarray | None = None
    fingerprint: str = ""
    oracle_risk: np.ndarray | None = None  # synthetic cohorts only: the planted latent risk
    source_path: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.signals.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.labels.shape[1])

    @property
    def is_binary(self) -> bool:
        return self.n_classes == 1

    def subset(self, index: np.ndarray) -> Cohort:
        """Rows ``index`` of the cohort (signals are indexed lazily where possible)."""
        idx = np.asarray(index)
        return Cohort(
            signals=self.signals[idx],
            labels=self.labels[idx],
            class_names=list(self.class_names),
            patient_id=self.patient_id[idx],
            record_id=self.record_id[idx],
            fs=self.fs,
            lead_names=list(self.lead_names),
            tabular=self.tabular[idx] if self.tabular.size else self.tabular,
            tabular_names=list(self.tabular_names),
            subgroups=self.subgroups.iloc[idx].reset_index(drop=True),
            predefined_fold=None if self.predefined_fold is None else self.predefined_fold[idx],
            fingerprint=self.fingerprint,
            oracle_risk=None if self.oracle_risk is None else self.oracle_risk[idx],
            source_path=None if self.source_path is None else self.source_path[idx],
        )
