"""Wave boundaries on the 12-lead median beat (the robust fallback delineator).

neurokit2's delineators (DWT, peak) work beat by beat on one lead and are unreliable at
100 Hz, where a QRS spans 8-12 samples; this module delineates the median beat instead,
using all leads at once (written by hand: no maintained package delineates a 12-lead
median beat). Conventions, all times in ms relative to the R fiducial:

* QRS onset/offset: where the spatial velocity (root sum of squares over leads of the
  time derivative) crosses ``QRS_FRACTION`` of its QRS maximum, walking outward from the
  steepest point and bridging dips shorter than 20 ms (the R apex, notches); crossings
  are interpolated between samples, so the resolution is finer than one sample.
* baseline of each lead: its mean over the 20 ms ending at QRS onset (the PR segment).
* T end: tangent method (Lepeschkin & Surawicz) - the steepest tangent of the T wave's
  descending limb meets the baseline; the median over leads whose T amplitude is at
  least a third of the largest. For a Gaussian wave this is its centre + 2 SD.
* P wave: the spatial magnitude of the baseline-corrected beat in the 300 ms before QRS
  onset (after the previous beat's T end, at fast rates), less its noise level (20th
  percentile); onset/offset where it crosses ``P_FRACTION`` of its peak height (the
  centre -+ 2 SD of a Gaussian wave). No P (NaN) when the height is under 0.04 mV or
  the maximum lies on the window's edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ensembler.features.beats import MedianBeat

QRS_FRACTION = 0.08
P_FRACTION = float(np.exp(-2.0))  # a Gaussian at +-2 SD
T_MIN_MV = 0.05
P_MIN_MV = 0.04
NAN = float("nan")


@dataclass(frozen=True)
class Fiducials:
    """Wave boundaries (ms relative to R; NaN: not found) and each lead's baseline (mV)."""

    qrs_on: float
    qrs_off: float
    t_end: float
    p_on: float
    p_peak: float
    p_off: float
    baseline: np.ndarray  # (leads,)


def _crossing(v: np.ndarray, inside: int, outside: int, thr: float) -> float:
    """Fractional index between ``inside`` (v >= thr) and ``outside`` where v meets thr."""
    a, b = float(v[inside]), float(v[outside])
    if a <= b:
        return float(inside)
    return inside + (outside - inside) * (a - thr) / (a - b)


def _edge(v: np.ndarray, thr: float, start: int, stop: int, gap: int) -> float:
    """Walk from ``start`` toward ``stop`` (exclusive) and return the interpolated index
    where ``v`` last exceeds ``thr`` before more than ``gap`` samples below it; NaN when
    the region does not end before ``stop``."""
    step = 1 if stop > start else -1
    edge = i = start
    while True:
        i += step
        if i == stop:
            return NAN
        if v[i] >= thr:
            edge = i
        elif abs(i - edge) > gap:
            return _crossing(v, edge, edge + step, thr)


def _qrs(beat: np.ndarray, r: int, fs: float) -> tuple[float, float]:
    velocity = np.sqrt((np.gradient(beat, axis=1) ** 2).sum(axis=0))
    core = round(0.04 * fs)
    lo, hi = r - core, r + core + 1
    peak = lo + int(np.argmax(velocity[lo:hi]))
    thr = QRS_FRACTION * float(velocity[peak])
    gap = max(1, round(0.02 * fs))
    start_on = max(0, r - round(0.15 * fs))
    stop_off = min(beat.shape[1], r + round(0.2 * fs))
    on = _edge(velocity, thr, min(peak, r), start_on - 1, gap)
    off = _edge(velocity, thr, max(peak, r), stop_off, gap)
    return on, off


def _t_end_of_lead(x: np.ndarray, peak: int, stop: int, fs: float) -> float:
    """Tangent-method T end (fractional index) of one baseline-corrected lead; the
    steepest point is searched in the 150 ms after the T peak."""
    segment = x[peak : min(stop, peak + round(0.15 * fs) + 1)]
    if segment.size < 3:  # the peak sits on the window's end: no descending limb to fit
        return NAN
    limb = np.gradient(segment)
    sign = np.sign(x[peak])
    k = int(np.argmin(limb * sign))  # steepest return toward the baseline
    slope = float(limb[k])
    if slope * sign >= 0:
        return NAN
    return peak + k - float(x[peak + k]) / slope


def _t_end(corrected: np.ndarray, j: float, r: int, fs: float, rr_ms: float) -> float:
    start = int(np.ceil(j + 0.06 * fs))
    limit_ms = 0.9 * rr_ms if np.isfinite(rr_ms) else 1e9
    stop = min(corrected.shape[1], r + int(0.6 * fs), r + int(limit_ms * fs / 1000))
    if stop - start < 3:
        return NAN
    seg = corrected[:, start:stop]
    peaks = start + np.argmax(np.abs(seg), axis=1)
    amps = np.abs(corrected[np.arange(len(corrected)), peaks])
    if amps.max() < T_MIN_MV:
        return NAN
    ends = [_t_end_of_lead(corrected[i], int(peaks[i]), stop, fs)
            for i in np.flatnonzero(amps >= amps.max() / 3)]  # fmt: skip
    ends = [e for e in ends if np.isfinite(e) and e <= stop + 0.1 * fs]
    return float(np.median(ends)) if ends else NAN


def _p_wave(corrected: np.ndarray, on: float, fs: float,
            prev_t_end: float) -> tuple[float, float, float]:
    stop = int(np.floor(on - 0.02 * fs))
    start = max(0, int(np.floor(on - 0.3 * fs)))
    if np.isfinite(prev_t_end):  # at fast rates the previous beat's T ends inside the window
        start = max(start, int(np.ceil(prev_t_end)))
    if stop - start < 3:
        return NAN, NAN, NAN
    magnitude = np.sqrt((corrected[:, start:stop] ** 2).sum(axis=0))
    k = int(np.argmax(magnitude))
    floor = float(np.percentile(magnitude, 20))  # noise adds to a magnitude: remove its level
    height = float(magnitude[k]) - floor
    if height < P_MIN_MV or k in (0, magnitude.size - 1):
        return NAN, NAN, NAN
    thr = floor + P_FRACTION * height
    gap = round(0.01 * fs)
    p_on = _edge(magnitude, thr, k, -1, gap)
    p_off = _edge(magnitude, thr, k, magnitude.size, gap)
    return start + p_on, float(start + k), start + p_off


def delineate(mb: MedianBeat, fs: float, rr_ms: float) -> Fiducials:
    """Fiducials of the median beat ``mb`` (see the module docstring for the conventions)."""
    r = mb.r_index
    on, off = _qrs(mb.beat, r, fs)
    leads = mb.beat.shape[0]
    if not (np.isfinite(on) and np.isfinite(off)):
        return Fiducials(NAN, NAN, NAN, NAN, NAN, NAN, np.full(leads, NAN))
    k = int(np.floor(on))
    width = max(1, round(0.02 * fs))
    baseline = mb.beat[:, max(0, k - width) : k + 1].mean(axis=1)
    corrected = mb.beat - baseline[:, None]
    t_end = _t_end(corrected, off, r, fs, rr_ms)
    prev_t_end = t_end - rr_ms * fs / 1000.0 if np.isfinite(rr_ms) else NAN
    p_on, p_peak, p_off = _p_wave(corrected, on, fs, prev_t_end)
    ms = 1000.0 / fs
    return Fiducials((on - r) * ms, (off - r) * ms, (t_end - r) * ms, (p_on - r) * ms,
                     (p_peak - r) * ms, (p_off - r) * ms, baseline)  # fmt: skip
