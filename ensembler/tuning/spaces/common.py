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


def suggest_training(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """TrainingConfig overrides: ``lr``, ``weight_decay``, ``batch_size``, ``dropout``, ``augment``.

    Ranges are those usual for AdamW + one-cycle on 12-lead ECG (PTB-XL benchmarks):
    lr 1e-4..1e-2 (log), weight decay 1e-5..1e-1 (log), head dropout 0..0.5, random
    amplitude scaling up to +-30 % and Gaussian noise up to 0.1 (in normalised units).
    """
    return {
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-5, 1e-1, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "augment": {
            "amplitude_scale": trial.suggest_float("aug_amplitude_scale", 0.0, 0.3),
            "noise_std": trial.suggest_float("aug_noise_std", 0.0, 0.1),
        },
    }


def suggest_fusion(trial: optuna.trial.BaseTrial) -> str:
    """Where tabular data joins the signal: ``early``, ``intermediate`` or ``late``."""
    return str(trial.suggest_categorical("fusion", list(FUSION_CHOICES)))
