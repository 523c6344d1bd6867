"""A physiological 12-lead ECG model: a 3-D cardiac dipole of Gaussian waves.

Each beat is the sum of P, Q, R, S and T waves, each a Gaussian in time along a
fixed 3-D direction (x: left, y: inferior, z: anterior), in the spirit of the
ECGSYN/VCG models (McSharry et al. 2003; Sameni et al. 2007). The dipole is
projected on the lead vectors of I and II (the other limb leads follow by
Einthoven/Goldberger, so they are exactly consistent) and of V1-V6 in the
horizontal plane. Written by hand: no maintained Python package renders
12-lead VCG-based ECGs with controllable morphology (neurokit2's ecg_simulate
is single-lead). On top: heart-rate variability, baseline wander, mains and
muscle noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ensembler.data.cohort import STANDARD_LEADS


def _direction(frontal_deg: float, anterior: float) -> np.ndarray:
    """Unit vector with frontal angle (0 = left, 90 = inferior) and anterior elevation (rad)."""
    th = np.deg2rad(frontal_deg)
    return np.array([np.cos(th) * np.cos(anterior), np.sin(th) * np.cos(anterior),
                     np.sin(anterior)])


def lead_matrix() -> np.ndarray:
    """Projection (3, 12) from dipole to the standard leads (precordial gain 1.4)."""
    lead_i, lead_ii = np.array([1.0, 0, 0]), _direction(60, 0)
    limb = [lead_i, lead_ii, lead_ii - lead_i, -(lead_i + lead_ii) / 2,
            lead_i - lead_ii / 2, lead_ii - lead_i / 2]
    angles = (115, 90, 75, 60, 30, 0)  # V1..V6, from left toward anterior
    prec = [1.4 * np.array([np.cos(np.deg2rad(a)), 0.15, np.sin(np.deg2rad(a))])
            for a in angles]
    return np.stack(limb + prec, axis=1)


_LEADS = lead_matrix()


@dataclass
class ECGParams:
    """Per-record parameters of the model (one ECG)."""

    heart_rate: float = 70.0  # bpm
    axis_deg: float = 50.0  # frontal QRS axis
    qrs_scale: float = 1.0  # multiplies Q, R, S amplitudes
    q_depth_v13: float = 0.08  # mV, extra Q wave in V1-V3
    qt_factor: float = 1.0  # multiplies the (Bazett-scaled) QT interval
    irregular: bool = False  # irregular RR, no P waves, fibrillatory waves
    paced: bool = False  # ventricular pacing: spike + wide QRS, discordant T
    wander_mv: float = 0.1
    mains_mv: float = 0.0
    muscle_mv: float = 0.02
    mains_hz: float = 50.0


def beat_times(p: ECGParams, duration: float, rng: np.random.Generator) -> np.ndarray:
    """R-peak times (s) covering [-1, duration + 1] with HRV or an irregular rhythm."""
    rr0 = 60.0 / p.heart_rate
    n = int((duration + 2) / rr0 * 1.6) + 4
    k = np.arange(n)
    if p.irregular:
        rr = rr0 * np.exp(0.18 * rng.standard_normal(n))
    else:  # respiratory sinus arrhythmia + Mayer waves + jitter
        rr = rr0 * (1 + 0.04 * np.sin(2 * np.pi * k * rr0 / 4.0 + rng.uniform(0, 6.3))
                    + 0.02 * np.sin(2 * np.pi * k * rr0 / 10.0 + rng.uniform(0, 6.3))
                    + 0.01 * rng.standard_normal(n))
    rr = np.clip(rr, 0.3, 2.0)
    t = -1.0 - rng.uniform(0, rr0) + np.cumsum(rr)
    return t[t < duration + 1.0]


def render(p: ECGParams, fs: float, duration: float, rng: np.random.Generator) -> np.ndarray:
    """Render one ECG.

    Returns
    -------
    ndarray of shape (round(fs * duration), 12), float64, mV, standard lead order
    """
    t = np.arange(round(fs * duration)) / fs
    beats = beat_times(p, duration, rng)
    rr = np.diff(np.append(beats, beats[-1] + 60 / p.heart_rate))
    wide = 2.8 if p.paced else 1.0
    axis = -40.0 if p.paced else p.axis_deg
    qt = 0.40 * np.sqrt(np.clip(rr, 0.4, 1.6)) * p.qt_factor * (1.12 if p.paced else 1.0)
    # (offset s, width s, amplitude mV, direction) per wave; offsets may vary by beat
    waves: list[tuple[np.ndarray, float, float, np.ndarray]] = [
        (np.full_like(beats, -0.03 * wide), 0.010 * wide, 0.15 * p.qrs_scale,
         np.array([-0.6, -0.1, 0.8])),
        (np.zeros_like(beats), 0.012 * wide, 1.2 * p.qrs_scale, _direction(axis, -0.35)),
        (np.full_like(beats, 0.035 * wide), 0.014 * wide, 0.45 * p.qrs_scale,
         _direction(axis - 160, -0.8)),
        (qt - 0.10, 0.055, 0.3 * (-1.3 if p.paced else 1.0), _direction(axis - 5, 0.3)),
    ]
    if not p.irregular:
        waves.append((np.full_like(beats, -0.16), 0.022, 0.15, _direction(60, 0.2)))
    dipole = np.zeros((t.size, 3))
    for offset, width, amp, direction in waves:
        g = np.exp(-0.5 * ((t[:, None] - (beats + offset)[None, :]) / width) ** 2).sum(axis=1)
        dipole += amp * g[:, None] * direction[None, :]
    ecg = dipole @ _LEADS
    # pseudo-infarct Q waves, local to V1-V3 (not part of the dipole)
    q = np.exp(-0.5 * ((t[:, None] - (beats - 0.02 * wide)[None, :]) / 0.015) ** 2).sum(axis=1)
    ecg[:, 6:9] -= p.q_depth_v13 * q[:, None] * np.array([0.8, 1.0, 0.7])
    if p.paced:  # one-sample pacing spike before each QRS
        idx = np.round((beats - 0.07) * fs).astype(int)
        idx = idx[(idx >= 0) & (idx < t.size)]
        ecg[idx] += 1.5 * (np.array([0.3, -0.8, 0.3]) @ _LEADS)[None, :]
    if p.irregular:  # fibrillatory baseline, 4-8 Hz
        f = rng.uniform(4, 8)
        ecg += 0.04 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))[:, None] \
            * (_direction(60, 0.2) @ _LEADS)[None, :]
    return ecg + noise(p, t, rng)


def noise(p: ECGParams, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Baseline wander (lead-correlated), mains hum and muscle noise, shape (T, 12)."""
    wander = np.zeros((t.size, 3))
    for _ in range(2):
        f = rng.uniform(0.05, 0.5)
        wander += np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))[:, None] * rng.normal(0, 1, 3)
    out = p.wander_mv * wander @ _LEADS
    if p.mains_mv > 0:
        out += p.mains_mv * np.sin(2 * np.pi * p.mains_hz * t + rng.uniform(0, 6.3))[:, None]
    out += p.muscle_mv * rng.standard_normal((t.size, len(STANDARD_LEADS)))
    return out
