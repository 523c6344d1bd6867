"""Per-lead median beats aligned on the R peak, and a template-matching quality index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the median-beat window around R (ms): long enough for a PR of 300 ms and a QT of 600 ms
PRE_MS, POST_MS = 350.0, 650.0
#: the part of the window the quality index compares (ms around R): QRS and ST-T, short
#: enough that the next beat of a fast or irregular rhythm stays out of it
SQI_PRE_MS, SQI_POST_MS = 150.0, 300.0


@dataclass(frozen=True)
class MedianBeat:
    """``beat`` (leads, W) median over beats; ``r_index`` is R's sample within the window;
    ``n_beats`` beats had a full window; ``sqi`` is their median correlation with it."""

    beat: np.ndarray
    r_index: int
    n_beats: int
    sqi: float


def median_beat(filtered: np.ndarray, rpeaks: np.ndarray, fs: float) -> MedianBeat | None:
    """Median beat of a band-passed ECG ``(leads, T)`` at ``rpeaks``; None without a full beat.

    SQI (signal-quality index): for each beat, the Pearson correlation of its 12-lead
    window from R - 150 ms to R + 300 ms (leads concatenated) with the median of the
    other beats (leave-one-out, so that a few noisy beats do not match themselves); the
    SQI is the median over beats, in [-1, 1] (about 0.95-1 for a clean record, below 0.5
    for noise or artefacts). It needs 2 beats; with one beat it is NaN.
    """
    pre, post = round(PRE_MS * fs / 1000), round(POST_MS * fs / 1000)
    ok = rpeaks[(rpeaks - pre >= 0) & (rpeaks + post < filtered.shape[-1])]
    if ok.size == 0:
        return None
    idx = ok[:, None] + np.arange(-pre, post + 1)[None, :]
    windows = filtered[:, idx].transpose(1, 0, 2)  # (beats, leads, W)
    beat = np.median(windows, axis=0)
    sqi = float("nan")
    if ok.size >= 2:
        part = slice(pre - round(SQI_PRE_MS * fs / 1000),
                     pre + round(SQI_POST_MS * fs / 1000) + 1)
        sqi = _template_sqi(windows[:, :, part].reshape(ok.size, -1))
    return MedianBeat(beat, pre, int(ok.size), sqi)


def _template_sqi(flat: np.ndarray) -> float:
    """Median over beats of the correlation of each beat ``(beats, features)`` with the
    median of the *other* beats (leave-one-out: a beat never matches itself)."""
    templates = np.stack([np.median(np.delete(flat, i, axis=0), axis=0)
                          for i in range(flat.shape[0])])
    corr = template_correlations(flat, templates)
    corr = corr[np.isfinite(corr)]  # a constant beat or template has no correlation
    return float(np.median(corr)) if corr.size else float("nan")


def template_correlations(beats: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Pearson correlation of each beat with its template along the last axis.

    ``beats`` (..., W) and ``templates`` broadcastable to it; returns ``beats.shape[:-1]``
    with NaN where a beat or its template is constant. The one template-matching kernel:
    the record-level SQI feature above (leads concatenated, leave-one-out median
    templates, median over beats) and the per-lead screening index of bundles
    (:func:`ensembler.bundle.quality.template_correlation`: each lead's mean beat, mean
    over beats) both call it.
    """
    a = beats - beats.mean(axis=-1, keepdims=True)
    b = templates - templates.mean(axis=-1, keepdims=True)
    num = (a * b).sum(axis=-1)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(den > 0, num / den, np.nan))
