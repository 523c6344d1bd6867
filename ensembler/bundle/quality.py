"""Per-record screening flags: poor signal quality and likely LA/RA limb-lead reversal.

Neither flag changes a score; both are written next to it so that a reader does not
trust a probability computed from an unusable or mis-wired recording.

**Signal quality** — the template-matching index of Orphanidou et al. (2015),
"Signal-quality indices for the electrocardiogram and photoplethysmogram:
derivation and applications to wireless monitoring", IEEE J Biomed Health Inform
19(3):832–838: R peaks are found with neurokit2 (``ecg_clean`` + ``ecg_peaks`` on
lead II, else the first lead); each lead is band-passed 0.5–40 Hz, cut into beats
around the R peaks, and the index of the lead is the mean correlation of its beats
with their average beat. A lead below ``QUALITY_THRESHOLD`` = 0.66 (the paper's
threshold) is poor, and so is a record whose detected rate lies outside 30–220 bpm
(the paper's 40–180 bpm plausibility rule, widened for resting 12-lead ECGs) or
with fewer than 3 beats. neurokit2 implements the same index
(``ecg_quality(method="templatematch")``) one lead at a time in pandas at ~40 ms per
lead; the vectorised version here does all leads in one numpy pass (a test checks it
against neurokit2's), with the project's one correlation kernel
(:func:`ensembler.features.beats.template_correlations`, also behind the record-level
``sqi`` feature, which differs by design: leads concatenated, leave-one-out median
templates, median over beats). The paper's RR-ratio rule is left out: it would flag atrial
fibrillation, a diagnosis, as noise.

**Limb-lead reversal** — left-arm/right-arm cable reversal inverts lead I and swaps
aVR with aVL. The criterion used is the classic one: a negative P-QRS in lead I with
a positive QRS in aVR (Batchvarov, Malik & Camm 2007, "Incorrect electrode cable
connection during electrocardiographic recording", Europace 9:1081–1090; Harrigan,
Chan & Brady 2012, J Emerg Med 43:1038–1044). It is checked on the QRS of the
average beat: the dominant deflection (largest excursion from the PR-segment
baseline within ±60 ms of the R peak) is negative in lead I and positive in aVR.
The same pattern occurs in dextrocardia, so the flag says "likely", not "certain".
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal as sps

from ensembler.features.beats import template_correlations

#: Orphanidou et al. (2015): mean beat-template correlation below this is unacceptable.
QUALITY_THRESHOLD = 0.66
#: Plausible heart-rate range for a resting 12-lead ECG (bpm).
RATE_RANGE = (30.0, 220.0)
#: Beat segment around each R peak (s): covers the P wave, QRS and most of the T wave.
BEAT_WINDOW = (-0.25, 0.45)
#: Records shorter than this (s) are not screened: too few beats for a template.
MIN_SECONDS = 2.0
#: QRS search window around the R peak (s) and PR-segment baseline window (s).
QRS_WINDOW = (-0.06, 0.06)
BASELINE_WINDOW = (-0.12, -0.07)


@dataclass(frozen=True)
class RecordQuality:
    """Screening result of one record.

    ``index``: worst per-lead template correlation (NaN when no beats);
    ``poor_leads``: leads below the threshold; ``reason``: why the record is poor ('' when
    not); ``lead_reversal``: likely LA/RA reversal.
    """

    index: float
    poor_leads: tuple[str, ...]
    reason: str
    lead_reversal: bool

    @property
    def poor(self) -> bool:
        return bool(self.reason)


@lru_cache(maxsize=8)
def _bandpass(fs: float) -> np.ndarray:
    return sps.butter(2, [0.5, min(40.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")


def r_peaks(lead: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices of one lead (neurokit2's default cleaning and detector)."""
    import neurokit2 as nk

    with warnings.catch_warnings():  # neurokit2 warns on short/odd signals; we judge below
        warnings.simplefilter("ignore")
        try:
            cleaned = nk.ecg_clean(lead, sampling_rate=round(fs))
            _, info = nk.ecg_peaks(cleaned, sampling_rate=round(fs))
        except (ValueError, TypeError, IndexError, ZeroDivisionError):  # too short or odd
            return np.zeros(0, np.int64)
    return np.asarray(info["ECG_R_Peaks"], np.int64)


def beats(x: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """(n_beats, leads, window) segments of ``x`` (leads, samples) around ``peaks``."""
    lo, hi = round(BEAT_WINDOW[0] * fs), round(BEAT_WINDOW[1] * fs)
    ok = peaks[(peaks + lo >= 0) & (peaks + hi <= x.shape[1])]
    idx = ok[:, None] + np.arange(lo, hi)[None, :]
    return np.transpose(x[:, idx], (1, 0, 2))


def template_correlation(seg: np.ndarray) -> np.ndarray:
    """(leads,) mean Pearson correlation of each beat with its lead's average beat."""
    cc = template_correlations(seg, seg.mean(axis=0, keepdims=True))  # (beats, leads)
    return np.asarray(np.nan_to_num(cc, nan=0.0).mean(axis=0))  # a flat beat counts as 0


def qrs_polarity(template: np.ndarray, fs: float) -> float:
    """Signed dominant QRS deflection (mV) of one average beat, from the PR baseline."""
    zero = -round(BEAT_WINDOW[0] * fs)
    base = template[zero + round(BASELINE_WINDOW[0] * fs): zero + round(BASELINE_WINDOW[1] * fs)]
    qrs = template[zero + round(QRS_WINDOW[0] * fs): zero + round(QRS_WINDOW[1] * fs) + 1]
    dev = qrs - (np.median(base) if len(base) else 0.0)
    return float(dev[int(np.argmax(np.abs(dev)))])


def assess(x: np.ndarray, fs: float, lead_names: Sequence[str]) -> RecordQuality:
    """Screen one preprocessed record ``x`` (leads, samples) in mV at ``fs`` Hz."""
    names = [n.upper() for n in lead_names]
    if x.shape[1] < MIN_SECONDS * fs:
        return RecordQuality(float("nan"), tuple(lead_names),
                             f"too short to screen (< {MIN_SECONDS:g} s)", False)
    ref = names.index("II") if "II" in names else 0
    peaks = r_peaks(x[ref].astype(np.float64), fs)
    if len(peaks) >= 2:
        rate = 60.0 * fs / float(np.median(np.diff(peaks)))
    else:
        rate = 0.0
    filtered = sps.sosfiltfilt(_bandpass(fs), np.asarray(x, np.float64), axis=1)
    seg = beats(filtered, peaks, fs)
    if len(seg) < 3:
        return RecordQuality(float("nan"), tuple(lead_names), "fewer than 3 beats detected",
                             False)
    cc = template_correlation(seg)
    poor = tuple(n for n, c in zip(lead_names, cc, strict=True) if c < QUALITY_THRESHOLD)
    reasons = []
    if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        reasons.append(f"detected rate {rate:.0f} bpm outside {RATE_RANGE[0]:.0f}–"
                       f"{RATE_RANGE[1]:.0f}")
    if poor:
        reasons.append(f"template correlation < {QUALITY_THRESHOLD} in {', '.join(poor)}")
    reversal = False
    if "I" in names and "AVR" in names:
        tmpl = seg.mean(axis=0)
        reversal = (qrs_polarity(tmpl[names.index("I")], fs) < 0
                    and qrs_polarity(tmpl[names.index("AVR")], fs) > 0)
    return RecordQuality(float(np.min(cc)), poor, "; ".join(reasons), reversal)
