"""Soft targets and the distillation loss used by the fold trainer.

loss = alpha * T^2 * BCE(sigmoid(z / T), s_T) + (1 - alpha) * BCE(sigmoid(z), y)

with ``z`` the student's logits, ``y`` the hard labels and ``s_T = sigmoid(logit(s) / T)``
the teacher's probabilities ``s`` softened at the same temperature (``s_T = s`` at T = 1).
The T^2 factor keeps the soft term's gradient on the scale of the hard term's as T
grows (Hinton et al., 2015). torch has no multi-label distillation loss, so this is
written here on top of ``binary_cross_entropy_with_logits``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ensembler.utils.hashing import array_digest

_EPS = 1e-6


@dataclass(frozen=True)
class SoftTargets:
    """Teacher probabilities for the cohort's rows and the mixing of the loss.

    ``probs``: (N, C) float32 indexed like the cohort; NaN on rows that have no target
    (the test rows), which a training job refuses to train on. ``source`` says where the
    targets came from (e.g. "meta-level OOF of joint_stack"); it is part of the job key.
    """

    probs: np.ndarray = field(compare=False, repr=False)
    alpha: float
    temperature: float
    source: str

    def describe(self) -> dict[str, object]:
        """JSON-able description (part of a distilled job's fingerprint)."""
        return {"alpha": self.alpha, "temperature": self.temperature, "source": self.source,
                "probs": array_digest(np.asarray(self.probs))}

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """(len(idx), C) targets of cohort rows ``idx``; ValueError on a row without one."""
        out = np.asarray(self.probs[idx], dtype=np.float32)
        if not np.isfinite(out).all():
            raise ValueError(f"soft targets: {int((~np.isfinite(out).any(axis=1)).sum())} "
                             "training rows have no teacher probability (test rows?)")
        return out

    def loss_module(self) -> nn.Module:
        """The mixed loss as a module of (logits (B, C), [hard | soft] (B, 2C))."""
        return MixedLoss(self.alpha, self.temperature)


class MixedLoss(nn.Module):
    """:func:`distill_loss` of (logits (B, C), targets (B, 2C) = [hard | soft])."""

    def __init__(self, alpha: float, temperature: float) -> None:
        super().__init__()
        self.alpha, self.temperature = alpha, temperature

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        c = logits.shape[1]
        return distill_loss(logits, targets[:, :c], targets[:, c:], self.alpha,
                            self.temperature)


def distill_loss(logits: torch.Tensor, hard: torch.Tensor, soft: torch.Tensor,
                 alpha: float, temperature: float) -> torch.Tensor:
    """alpha * T^2 * BCE(z / T, s_T) + (1 - alpha) * BCE(z, y), each averaged over (B, C)."""
    t = float(temperature)
    s = soft.clamp(_EPS, 1 - _EPS)
    s_t = torch.sigmoid(torch.logit(s) / t) if t != 1.0 else s
    soft_term = F.binary_cross_entropy_with_logits(logits / t, s_t) * (t * t)
    hard_term = F.binary_cross_entropy_with_logits(logits, hard)
    return alpha * soft_term + (1 - alpha) * hard_term
