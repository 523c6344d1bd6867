"""``ecg_clinical`` (and ``ecg_clinical_beats``): clinically meaningful ECG features.

Per record: band-pass 0.5-40 Hz; R peaks (neurokit2) and rhythm; the per-lead median
beat aligned on R and its quality; wave boundaries on the median beat (not on every beat
of every lead, which keeps the cost far under 50 ms per ECG); amplitudes per lead
relative to the PR baseline; intervals; frontal QRS and T axes; spectral band powers.
Rhythm and wave features are NaN unless at least ``MIN_BEATS`` beats had a full
median-beat window and the signal-quality index is at least ``MIN_SQI`` (on noise the
detector still "finds" beats; their rate means nothing). Every column is documented in ``COLUMNS``
(rendered into docs/sections/features.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import signal as sps

from ensembler.features.beats import MedianBeat, median_beat
from ensembler.features.delineate import Fiducials, delineate
from ensembler.features.registry import ColumnSpec, register_feature_set
from ensembler.features.rhythm import bandpass, detect_rpeaks, rhythm_features

VERSION = "1"
MIN_BEATS = 3
MIN_SQI = 0.5
BANDS_HZ = ((0.5, 4.0), (4.0, 15.0), (15.0, 40.0))
_GATED = f"fewer than {MIN_BEATS} beats with a full window, or SQI < {MIN_SQI}"

COLUMNS: list[ColumnSpec] = [
    ColumnSpec("beat_count", "1", "R peaks detected in the record", "never (0 for a flat record)"),
    ColumnSpec("sqi", "1", "signal-quality index: median correlation of each beat (12 leads) "
               "with the median beat", "fewer than 2 beats with a full window"),
    ColumnSpec("heart_rate_bpm", "bpm", "60000 / median RR", _GATED),
    ColumnSpec("rr_mean_ms", "ms", "mean RR interval", _GATED),
    ColumnSpec("sdnn_ms", "ms", "SD of RR intervals (HRV)", _GATED),
    ColumnSpec("rmssd_ms", "ms", "root mean square of successive RR differences (HRV)",
               f"{_GATED}, or fewer than 4 R peaks"),
    ColumnSpec("rr_irregularity", "1", "median |successive RR difference| / median RR "
               "(sinus about 0.02-0.06, atrial fibrillation > 0.1)",
               f"{_GATED}, or fewer than 4 R peaks"),
    ColumnSpec("p_duration_ms", "ms", "P onset to P offset (median beat)",
               f"{_GATED}, or no P wave found (e.g. atrial fibrillation)"),
    ColumnSpec("pr_ms", "ms", "P onset to QRS onset", f"{_GATED}, or no P wave found"),
    ColumnSpec("qrs_ms", "ms", "QRS onset to QRS offset (spatial velocity)", _GATED),
    ColumnSpec("qt_ms", "ms", "QRS onset to T end (tangent method)",
               f"{_GATED}, or no T wave of at least 0.05 mV"),
    ColumnSpec("qtc_bazett_ms", "ms", "QT / sqrt(RR in s)", "QT or heart rate is NaN"),
    ColumnSpec("qtc_fridericia_ms", "ms", "QT / cbrt(RR in s)", "QT or heart rate is NaN"),
    ColumnSpec("qrs_axis_deg", "deg", "frontal QRS axis from the net QRS areas of I and aVF "
               "(atan2(2 aVF / sqrt 3, I); 0 = left, +90 = inferior)",
               f"{_GATED}, or lead I or aVF absent"),
    ColumnSpec("t_axis_deg", "deg", "frontal T axis from the net J-to-T-end areas of I and aVF",
               f"{_GATED}, no T end, or lead I or aVF absent"),
    ColumnSpec("{lead}:p_amp_mv", "mV", "P amplitude at the P peak, relative to the PR "
               "baseline", f"{_GATED}, or no P wave found"),
    ColumnSpec("{lead}:q_amp_mv", "mV", "deepest negative deflection before the lead's R "
               "within the QRS (0 if none)", _GATED),
    ColumnSpec("{lead}:r_amp_mv", "mV", "largest positive deflection within the QRS (0 if none)",
               _GATED),
    ColumnSpec("{lead}:s_amp_mv", "mV", "deepest negative deflection after the lead's R within "
               "the QRS (0 if none)", _GATED),
    ColumnSpec("{lead}:qrs_pp_mv", "mV", "QRS peak-to-peak amplitude", _GATED),
    ColumnSpec("{lead}:st60_mv", "mV", "ST level at J + 60 ms relative to the PR baseline",
               _GATED),
    ColumnSpec("{lead}:t_amp_mv", "mV", "signed T-wave extreme between J + 60 ms and T end",
               f"{_GATED}, or no T end"),
    *[ColumnSpec(f"{{lead}}:power_{lo:g}_{hi:g}hz", "1", f"share of the 0.5-40 Hz power in "
                 f"{lo:g}-{hi:g} Hz (Welch)", "a flat lead (no power)") for lo, hi in BANDS_HZ],
    ColumnSpec("{lead}:log_power", "log10 mV^2", "log10 of the 0.5-40 Hz power (Welch)",
               "a flat lead (no power)"),
]


def _beat_sample_spec(step_ms: float) -> ColumnSpec:
    return ColumnSpec("{lead}:beat_<t>ms", "mV", f"median beat, baseline-corrected, every "
                      f"{step_ms:g} ms from -200 to +400 ms around R (t is the offset, e.g. "
                      "beat_-200ms, beat_+020ms)", _GATED)


class ClinicalFeatures:
    """The clinical ECG feature set; ``beat_step_ms`` adds the median-beat samples."""

    version = VERSION

    def __init__(self, beat_step_ms: float | None = None) -> None:
        self.beat_step_ms = beat_step_ms
        self.name = "ecg_clinical" if beat_step_ms is None else "ecg_clinical_beats"

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version,
                "params": {"beat_step_ms": self.beat_step_ms}}  # fmt: skip

    def column_specs(self) -> list[ColumnSpec]:
        extra = [] if self.beat_step_ms is None else [_beat_sample_spec(self.beat_step_ms)]
        return [*COLUMNS, *extra]

    def _offsets_ms(self) -> np.ndarray:
        if self.beat_step_ms is None:
            return np.zeros(0)
        return np.arange(-200.0, 400.0 + 1e-9, self.beat_step_ms)

    def columns(self, lead_names: Sequence[str]) -> list[str]:
        names = [n for spec in COLUMNS for n in spec.expand(lead_names)]
        return names + [f"{lead}:beat_{t:+04.0f}ms" for lead in lead_names
                        for t in self._offsets_ms()]  # fmt: skip

    def compute(self, signal: np.ndarray, fs: float, lead_names: Sequence[str]) -> np.ndarray:
        values = measure(np.asarray(signal, dtype=np.float64), fs, lead_names, self._offsets_ms())
        return np.array([values.get(c, np.nan) for c in self.columns(lead_names)], np.float32)


def measure(signal: np.ndarray, fs: float, leads: Sequence[str],
            offsets_ms: np.ndarray) -> dict[str, float]:
    """Every measurable column of one ECG ``(leads, samples)`` by name (absent: NaN)."""
    out = band_powers(signal, fs, leads)
    filtered = bandpass(signal, fs)
    rpeaks = detect_rpeaks(filtered, fs)
    out["beat_count"] = float(rpeaks.size)
    mb = median_beat(filtered, rpeaks, fs)
    if mb is None:
        return out
    out["sqi"] = mb.sqi
    if mb.n_beats < MIN_BEATS or not mb.sqi >= MIN_SQI:
        return out
    rhythm = rhythm_features(rpeaks, fs)
    out.update(heart_rate_bpm=rhythm.heart_rate_bpm, rr_mean_ms=rhythm.rr_mean_ms,
               sdnn_ms=rhythm.sdnn_ms, rmssd_ms=rhythm.rmssd_ms,
               rr_irregularity=rhythm.rr_irregularity)  # fmt: skip
    fid = delineate(mb, fs, rhythm.rr_mean_ms)
    out.update(intervals(fid, rhythm.heart_rate_bpm))
    if np.isfinite(fid.qrs_on):
        out.update(amplitudes(mb, fid, fs, leads))
        out.update(axes(mb, fid, fs, leads))
        out.update(beat_samples(mb, fid, fs, leads, offsets_ms))
    return out


def band_powers(signal: np.ndarray, fs: float, leads: Sequence[str]) -> dict[str, float]:
    """Relative band powers and log total power (0.5-40 Hz, capped at Nyquist) per lead."""
    freqs, psd = sps.welch(signal, fs=fs, nperseg=min(signal.shape[-1], int(4 * fs)), axis=-1)
    top = min(40.0, fs / 2)
    total = psd[:, (freqs >= 0.5) & (freqs <= top)].sum(axis=1)
    out: dict[str, float] = {}
    for i, lead in enumerate(leads):
        if not total[i] > 1e-12:
            continue
        out[f"{lead}:log_power"] = float(np.log10(total[i] * (freqs[1] - freqs[0])))
        for lo, hi in BANDS_HZ:
            band = (freqs >= lo) & (freqs < min(hi, top + 1e-9))
            out[f"{lead}:power_{lo:g}_{hi:g}hz"] = float(psd[i, band].sum() / total[i])
    return out


def intervals(fid: Fiducials, hr_bpm: float) -> dict[str, float]:
    """Durations (ms) and corrected QT from the fiducials and the heart rate."""
    qt = fid.t_end - fid.qrs_on
    rr_s = 60.0 / hr_bpm if np.isfinite(hr_bpm) and hr_bpm > 0 else np.nan
    return {"p_duration_ms": fid.p_off - fid.p_on, "pr_ms": fid.qrs_on - fid.p_on,
            "qrs_ms": fid.qrs_off - fid.qrs_on, "qt_ms": qt,
            "qtc_bazett_ms": qt / np.sqrt(rr_s),
            "qtc_fridericia_ms": qt / np.cbrt(rr_s)}  # fmt: skip


def _index(ms: float, mb: MedianBeat, fs: float) -> int:
    return int(np.clip(round(mb.r_index + ms * fs / 1000.0), 0, mb.beat.shape[1] - 1))


def amplitudes(mb: MedianBeat, fid: Fiducials, fs: float,
               leads: Sequence[str]) -> dict[str, float]:
    """Per-lead wave amplitudes (mV) relative to each lead's PR baseline."""
    x = mb.beat - fid.baseline[:, None]
    on, off = _index(fid.qrs_on, mb, fs), _index(fid.qrs_off, mb, fs)
    qrs = x[:, on : off + 1]
    apex = np.argmax(qrs, axis=1)
    st = x[:, _index(fid.qrs_off + 60.0, mb, fs)]
    t_amp = np.full(len(leads), np.nan)
    if np.isfinite(fid.t_end):
        seg = x[:, _index(fid.qrs_off + 60.0, mb, fs) : _index(fid.t_end, mb, fs) + 1]
        if seg.shape[1]:
            t_amp = seg[np.arange(len(leads)), np.argmax(np.abs(seg), axis=1)]
    p_amp = x[:, _index(fid.p_peak, mb, fs)] if np.isfinite(fid.p_peak) else t_amp * np.nan
    out: dict[str, float] = {}
    for i, lead in enumerate(leads):
        out[f"{lead}:q_amp_mv"] = float(min(0.0, qrs[i, : apex[i] + 1].min()))
        out[f"{lead}:r_amp_mv"] = float(max(0.0, qrs[i].max()))
        out[f"{lead}:s_amp_mv"] = float(min(0.0, qrs[i, apex[i] :].min()))
        out[f"{lead}:qrs_pp_mv"] = float(qrs[i].max() - qrs[i].min())
        out[f"{lead}:st60_mv"] = float(st[i])
        out[f"{lead}:t_amp_mv"] = float(t_amp[i])
        out[f"{lead}:p_amp_mv"] = float(p_amp[i])
    return out


def _axis(x: np.ndarray, leads: Sequence[str], start: int, stop: int) -> float:
    if stop <= start or "I" not in leads or "aVF" not in leads:
        return float("nan")
    area_i = float(x[list(leads).index("I"), start:stop].sum())
    area_avf = float(x[list(leads).index("aVF"), start:stop].sum())
    return float(np.degrees(np.arctan2(2.0 * area_avf / np.sqrt(3.0), area_i)))


def axes(mb: MedianBeat, fid: Fiducials, fs: float, leads: Sequence[str]) -> dict[str, float]:
    """Frontal QRS and T axes (degrees, -180..180) from net areas in leads I and aVF."""
    x = mb.beat - fid.baseline[:, None]
    on, off = _index(fid.qrs_on, mb, fs), _index(fid.qrs_off, mb, fs)
    t_axis = float("nan")
    if np.isfinite(fid.t_end):
        t_axis = _axis(x, leads, off + 1, _index(fid.t_end, mb, fs) + 1)
    return {"qrs_axis_deg": _axis(x, leads, on, off + 1), "t_axis_deg": t_axis}


def beat_samples(mb: MedianBeat, fid: Fiducials, fs: float, leads: Sequence[str],
                 offsets_ms: np.ndarray) -> dict[str, float]:
    """The baseline-corrected median beat at ``offsets_ms`` around R (linear interpolation)."""
    if offsets_ms.size == 0:
        return {}
    grid = mb.r_index + offsets_ms * fs / 1000.0
    samples = np.arange(mb.beat.shape[1])
    x = mb.beat - fid.baseline[:, None]
    return {f"{lead}:beat_{t:+04.0f}ms": float(v)
            for i, lead in enumerate(leads)
            for t, v in zip(offsets_ms, np.interp(grid, samples, x[i]), strict=True)}  # fmt: skip


register_feature_set("ecg_clinical", ClinicalFeatures)
register_feature_set("ecg_clinical_beats", lambda beat_step_ms=20.0: ClinicalFeatures(beat_step_ms))
