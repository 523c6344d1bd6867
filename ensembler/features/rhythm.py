"""R-peak detection and rhythm features of one 12-lead ECG.

R peaks come from neurokit2's QRS detector (``ecg_findpeaks``, method "neurokit": steep
QRS slopes, Makowski et al. 2021) run on the lead with the largest QRS excursion, then
each peak is moved to the maximum of the spatial magnitude (root sum of squares over all
leads) within +-50 ms, so every lead's beats are aligned on one fiducial. Rhythm numbers
are plain numpy on the RR series.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

#: band of the filtered signal every feature is measured on (Hz): removes baseline wander
#: and high-frequency noise; the upper edge is capped below Nyquist.
BAND_HZ = (0.5, 40.0)


@dataclass(frozen=True)
class Rhythm:
    """R peaks (sample indices, ascending) and the RR-derived numbers (NaN: not measurable)."""

    rpeaks: np.ndarray
    heart_rate_bpm: float
    rr_mean_ms: float
    sdnn_ms: float
    rmssd_ms: float
    rr_irregularity: float


def bandpass(signals: np.ndarray, fs: float) -> np.ndarray:
    """Zero-phase Butterworth band-pass (order 2) of ``signals`` (leads, T) -> same shape."""
    high = min(BAND_HZ[1], 0.45 * fs)
    sos = sps.butter(2, [BAND_HZ[0], high], btype="band", fs=fs, output="sos")
    padlen = min(signals.shape[-1] - 1, 3 * fs)
    return np.asarray(sps.sosfiltfilt(sos, signals, axis=-1, padlen=int(padlen)))


def detect_rpeaks(filtered: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices of a band-passed ECG ``(leads, T)``; empty when none found."""
    spread = np.percentile(filtered, 99.5, axis=1) - np.percentile(filtered, 0.5, axis=1)
    if not np.isfinite(spread).all() or spread.max() <= 1e-6:
        return np.zeros(0, dtype=int)
    import neurokit2 as nk  # heavy import (pandas, sklearn): only where features are computed

    lead = int(np.argmax(spread))
    try:
        with warnings.catch_warnings():  # on a record without QRS it averages empty slices
            warnings.simplefilter("ignore", RuntimeWarning)
            found = nk.ecg_findpeaks(filtered[lead], sampling_rate=round(fs), method="neurokit")
    except (ValueError, IndexError):  # neurokit2 raises on degenerate input
        return np.zeros(0, dtype=int)
    peaks = np.asarray(found.get("ECG_R_Peaks", []), dtype=int)
    magnitude = np.sqrt((filtered**2).sum(axis=0))
    half = max(1, round(0.05 * fs))
    refined = [
        max(0, p - half) + int(np.argmax(magnitude[max(0, p - half) : p + half + 1]))
        for p in peaks
    ]
    return np.unique(np.asarray(refined, dtype=int))


def rhythm_features(rpeaks: np.ndarray, fs: float) -> Rhythm:
    """Heart rate, RR mean, SDNN, RMSSD and an irregularity index from the R peaks.

    ``rr_irregularity`` = median |RR_i+1 - RR_i| / median RR (0 for a metronome; about
    0.02-0.06 in sinus rhythm, above 0.1 in atrial fibrillation). HR needs 2 beats,
    SDNN 3, RMSSD and irregularity 3 (2 successive differences need 3 RR: 4 beats).
    """
    rr = np.diff(rpeaks) / fs * 1000.0
    nan = float("nan")
    mean = float(rr.mean()) if rr.size >= 1 else nan
    hr = 60_000.0 / float(np.median(rr)) if rr.size >= 1 else nan
    sdnn = float(rr.std(ddof=1)) if rr.size >= 2 else nan
    d = np.diff(rr)
    rmssd = float(np.sqrt((d**2).mean())) if d.size >= 2 else nan
    irregular = float(np.median(np.abs(d)) / np.median(rr)) if d.size >= 2 else nan
    return Rhythm(rpeaks, hr, mean, sdnn, rmssd, irregular)
