"""The two validation metrics the trainer needs per epoch (the project's one ROC AUC and
scikit-learn's log-loss)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import log_loss

from ensembler.evaluation.ranking import roc_auc


def macro_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Macro ROC AUC of (N, C) labels and scores over classes that have both labels; NaN
    when none has (:func:`ensembler.evaluation.roc_auc`, i.e. ``stacking.binary_auc``)."""
    return roc_auc(y, p).macro


def bce_from_probs(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary cross-entropy over classes, from probabilities."""
    return float(np.mean([
        log_loss(y[:, c], np.clip(p[:, c], 1e-7, 1 - 1e-7), labels=[0, 1])
        for c in range(y.shape[1])
    ]))
