"""The two validation metrics the trainer needs per epoch (scikit-learn based)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score


def macro_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Macro ROC AUC over classes that have both labels; NaN when none has."""
    aucs = [
        roc_auc_score(y[:, c], p[:, c])
        for c in range(y.shape[1])
        if 0 < y[:, c].sum() < len(y)
    ]
    return float(np.mean(aucs)) if aucs else float("nan")


def bce_from_probs(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary cross-entropy over classes, from probabilities."""
    return float(np.mean([
        log_loss(y[:, c], np.clip(p[:, c], 1e-7, 1 - 1e-7), labels=[0, 1])
        for c in range(y.shape[1])
    ]))
