"""The planted condition: per-record latent features, latent risk and noisy labels.

Model (all fixed by ``SyntheticEffects`` before training):

* each patient has chronic feature values ``d ~ N(0, 1)``; each of the patient's
  ECGs sees ``x = rho * d + sqrt(1 - rho^2) * e`` (``rho = within_patient_corr``)
  for QRS voltage, Q waves, QT, axis and the rhythm propensity; a record is
  irregular when its rhythm propensity is in the top ``irregular_fraction``;
* latent risk of condition c: ``R_c = sum_k beta_k w_ck x_k`` over the standardised
  features plus age and sex; ``P(y_c = 1) = sigmoid(alpha_c + R_c)`` with ``alpha_c``
  set for the configured prevalence; then ``label_noise`` of labels are flipped;
* ``R`` is the oracle score: its AUC is the best any model could reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import norm

from ensembler.config import SyntheticConfig

#: Feature order of the design matrix.
FEATURES = ("low_qrs_voltage", "q_waves_v1_v3", "qt_prolongation", "irregular_rhythm",
            "axis_deviation", "age_prior", "sex_prior")
#: Per-condition emphasis in multi-label mode: 1.5 on two ECG features, 0.5 on the rest.
_EMPHASIS = (("low_qrs_voltage", "axis_deviation"), ("qt_prolongation", "irregular_rhythm"),
             ("q_waves_v1_v3", "axis_deviation"), ("q_waves_v1_v3", "qt_prolongation"),
             ("low_qrs_voltage", "irregular_rhythm"))


@dataclass
class Latents:
    """Everything drawn for N records before rendering (arrays of shape (N,) unless noted)."""

    patient_index: np.ndarray  # int, 0..n_patients-1
    age: np.ndarray  # years
    female: np.ndarray  # bool
    paced: np.ndarray  # bool
    z: np.ndarray  # (N, 5): qrs, q, qt, rhythm propensity, axis (standard normal)
    irregular: np.ndarray  # bool
    risk: np.ndarray  # (N, C) latent risk (oracle score)
    labels: np.ndarray  # (N, C) uint8, after label noise
    class_names: list[str]


def class_names(cfg: SyntheticConfig) -> list[str]:
    """``["condition"]`` (binary) or ``["cond_a", "cond_b", ...]`` (multi-label)."""
    if cfg.task == "binary":
        return ["condition"]
    return [f"cond_{chr(ord('a') + c)}" for c in range(cfg.n_conditions)]


def weight_matrix(cfg: SyntheticConfig) -> np.ndarray:
    """Coefficients (C, 7) of the latent risk on ``FEATURES``."""
    beta = np.array([getattr(cfg.effects, f) for f in FEATURES])
    if cfg.task == "binary":
        return beta[None, :]
    w = np.ones((cfg.n_conditions, len(FEATURES)))
    for c in range(cfg.n_conditions):
        w[c, :5] = 0.5
        for f in _EMPHASIS[c]:
            w[c, FEATURES.index(f)] = 1.5
    return w * beta[None, :]


def draw_latents(cfg: SyntheticConfig, n_patients: int, rng: np.random.Generator) -> Latents:
    """Draw patients, their ECG counts and every record's latent features and labels."""
    lo, hi = cfg.ecgs_per_patient
    counts = rng.integers(lo, hi + 1, size=n_patients)
    pidx = np.repeat(np.arange(n_patients), counts)
    n = len(pidx)
    eff = cfg.effects
    age_p = np.clip(rng.normal(60.0, 15.0, n_patients), 18, 95)
    female_p = rng.random(n_patients) < 0.5
    paced_p = rng.random(n_patients) < cfg.paced_fraction
    rho = eff.within_patient_corr
    d = rng.standard_normal((n_patients, 5))
    z = rho * d[pidx] + np.sqrt(1 - rho**2) * rng.standard_normal((n, 5))
    irregular = z[:, 3] > norm.ppf(1 - eff.irregular_fraction)
    p = eff.irregular_fraction
    age = age_p[pidx] + rng.uniform(0, 3, n)  # ECGs over a few years
    design = np.column_stack([
        z[:, 0], z[:, 1], z[:, 2], (irregular - p) / np.sqrt(p * (1 - p)), z[:, 4],
        (age - 60.0) / 15.0, np.where(female_p[pidx], -1.0, 1.0),
    ])
    risk = design @ weight_matrix(cfg).T
    labels = np.zeros(risk.shape, np.uint8)
    for c in range(risk.shape[1]):
        r = risk[:, c]
        alpha = brentq(lambda a, r=r: float(expit(a + r).mean()) - eff.prevalence, -30, 30)
        y = rng.random(n) < expit(alpha + r)
        flip = rng.random(n) < eff.label_noise
        labels[:, c] = y ^ flip
    return Latents(pidx, age, female_p[pidx], paced_p[pidx], z, irregular,
                   risk, labels, class_names(cfg))
