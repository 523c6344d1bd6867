"""Search-space pieces every architecture shares: optimiser, regularisation, augmentation.

Each function is plain Optuna: it calls ``trial.suggest_*`` and returns a dict, so the
same code samples during the search and rebuilds the winner through
``optuna.trial.FixedTrial(best_params)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna

from base_models import FUSION_MODES, family_ranges

#: Where tabular data can join the signal in a fused member (every mode but "none").
FUSION_CHOICES = tuple(m for m in FUSION_MODES if m != "none")


def suggest_ranges(trial: optuna.trial.BaseTrial, ranges: Mapping[str, Mapping[str, Any]]
                   ) -> dict[str, Any]:
    """Sample ``ranges`` (the registry's format) in order: ``{"choices"}`` categorical,
    ``{"low", "high"[, "log"]}`` an integer when both bounds are integers, else a float."""
    out: dict[str, Any] = {}
    for name, r in ranges.items():
        if "choices" in r:
            out[name] = trial.suggest_categorical(name, list(r["choices"]))
        elif isinstance(r["low"], int) and isinstance(r["high"], int):
            out[name] = trial.suggest_int(name, r["low"], r["high"], log=bool(r.get("log")))
        else:
            out[name] = trial.suggest_float(name, float(r["low"]), float(r["high"]),
                                            log=bool(r.get("log")))
    return out


def suggest_family(trial: optuna.trial.BaseTrial, family: str) -> dict[str, Any]:
    """The search parameters of a built-in ``family``, sampled from its registry ranges."""
    return suggest_ranges(trial, family_ranges(family))


#: What every network member's study searches besides its family's ranges: the AdamW
#: learning rate and weight decay, the batch size, the head dropout and the augmentation
#: strengths (random amplitude scaling up to +-30 %, Gaussian noise up to 0.1 in normalised
#: units) -- the ranges usual for AdamW + one-cycle on 12-lead ECG (PTB-XL benchmarks).
TRAINING_RANGES: dict[str, dict[str, Any]] = {
    "lr": {"low": 1e-4, "high": 1e-2, "log": True},
    "weight_decay": {"low": 1e-5, "high": 1e-1, "log": True},
    "batch_size": {"choices": [16, 32, 64]},
    "dropout": {"low": 0.0, "high": 0.5},
    "aug_amplitude_scale": {"low": 0.0, "high": 0.3},
    "aug_noise_std": {"low": 0.0, "high": 0.1},
}


#: the augmentation parameters of :data:`TRAINING_RANGES` and the ``augment`` field each sets
AUGMENT_FIELDS = {"aug_amplitude_scale": "amplitude_scale", "aug_noise_std": "noise_std"}


def suggest_training(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """TrainingConfig overrides sampled from :data:`TRAINING_RANGES`: ``lr``,
    ``weight_decay``, ``batch_size``, ``dropout`` and ``augment`` (from the ``aug_*``
    parameters)."""
    p = suggest_ranges(trial, TRAINING_RANGES)
    return {
        **{k: p[k] for k in ("lr", "weight_decay", "batch_size", "dropout")},
        "augment": {field: p[name] for name, field in AUGMENT_FIELDS.items()},
    }


def suggest_fusion(trial: optuna.trial.BaseTrial) -> str:
    """Where tabular data joins the signal: ``early``, ``intermediate`` or ``late``."""
    return str(trial.suggest_categorical("fusion", list(FUSION_CHOICES)))
