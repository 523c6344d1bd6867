"""Search-space pieces every architecture shares: optimiser, regularisation, augmentation.

Each function is plain Optuna: it calls ``trial.suggest_*`` and returns a dict, so the
same code samples during the search and rebuilds the winner through
``optuna.trial.FixedTrial(best_params)``.
"""

from __future__ import annotations

from typing import Any

import optuna

FUSION_CHOICES = ("early", "intermediate", "late")


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
