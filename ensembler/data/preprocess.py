"""Turn one record into the fixed ``(leads, samples)`` float array every model sees.

Pure per-record function: a record gives the same output alone or in a batch, so
the frozen bundle re-uses it verbatim at prediction time. Steps, in order:
quality checks (NaN, flat lines) -> lead mapping/derivation -> ``resample_poly``
-> optional zero-phase Butterworth band-pass -> crop (from the start) or zero-pad
(at the end) to ``fs * duration_s`` samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal as sps

from ensembler.config import PreprocessingConfig
from ensembler.data.leads import map_leads, resolve_leads
from ensembler.errors import BadRecordError

#: A lead whose peak-to-peak range is below this (mV) over the whole record is "flat".
FLAT_PTP_MV = 1e-3


def n_samples(spec: PreprocessingConfig) -> int:
    """Output length in samples: ``round(spec.fs * spec.duration_s)``."""
    return round(spec.fs * spec.duration_s)


@lru_cache(maxsize=32)
def _bandpass_sos(low: float, high: float, fs: float) -> np.ndarray:
    return sps.butter(4, [low, high], btype="bandpass", fs=fs, output="sos")


def check_signal(signal: np.ndarray, lead_names: Sequence[str], record: str) -> None:
    """Raise BadRecordError if ``signal`` (samples, leads) has NaN/inf or a flat lead."""
    finite = np.isfinite(signal)
    if not finite.all():
        bad = [lead_names[int(i)] for i in np.flatnonzero(~finite.all(axis=0))]
        raise BadRecordError(record, f"non-finite values (NaN/inf) in lead(s) {bad}")
    ptp = np.ptp(signal, axis=0)
    flat = [lead_names[int(i)] for i in np.flatnonzero(ptp < FLAT_PTP_MV)]
    if flat:
        raise BadRecordError(
            record, f"flat line in lead(s) {flat} (peak-to-peak < {FLAT_PTP_MV} mV)"
        )


def preprocess_record(
    signal: np.ndarray,
    lead_names: Sequence[str],
    fs_in: float,
    spec: PreprocessingConfig,
    record: str = "<record>",
) -> np.ndarray:
    """Preprocess one record.

    Parameters
    ----------
    signal : ndarray of shape (samples, leads_in), mV
    lead_names : names of the ``leads_in`` columns (any case)
    fs_in : sampling rate of ``signal`` in Hz
    spec : the preprocessing config (target fs, duration, leads, band-pass)
    record : name used in error messages

    Returns
    -------
    ndarray of shape (n_leads_out, spec.fs * spec.duration_s), float32, mV

    Raises
    ------
    BadRecordError
        NaN/inf, a flat lead, leads that are missing and cannot be derived, or
        a shape that is not (samples, leads).
    """
    return fit_length(preprocess_full(signal, lead_names, fs_in, spec, record), n_samples(spec))


def preprocess_full(
    signal: np.ndarray,
    lead_names: Sequence[str],
    fs_in: float,
    spec: PreprocessingConfig,
    record: str = "<record>",
) -> np.ndarray:
    """Every step of :func:`preprocess_record` except the crop/pad: (leads_out, samples_at_fs)."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(lead_names):
        raise BadRecordError(
            record, f"signal shape {x.shape} does not match {len(lead_names)} lead names"
        )
    check_signal(x, lead_names, record)
    try:
        x = map_leads(x, lead_names, resolve_leads(spec.leads))
    except ValueError as exc:
        raise BadRecordError(record, str(exc)) from None
    if not np.isclose(fs_in, spec.fs):
        ratio = Fraction(spec.fs / fs_in).limit_denominator(1000)
        x = sps.resample_poly(x, ratio.numerator, ratio.denominator, axis=0, padtype="line")
    if spec.bandpass is not None:
        low, high = spec.bandpass
        if not 0 < low < high < spec.fs / 2:
            raise BadRecordError(
                record, f"band-pass {spec.bandpass} Hz must satisfy 0 < low < high < fs/2"
            )
        x = sps.sosfiltfilt(_bandpass_sos(low, high, spec.fs), x, axis=0)
    return np.ascontiguousarray(x.T, dtype=np.float32)


def fit_length(x: np.ndarray, n_out: int) -> np.ndarray:
    """(leads, samples) cropped from the start or zero-padded at the end to ``n_out``."""
    if x.shape[1] >= n_out:
        return np.ascontiguousarray(x[:, :n_out], dtype=np.float32)
    return np.pad(x, ((0, 0), (0, n_out - x.shape[1]))).astype(np.float32)
