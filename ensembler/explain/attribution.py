"""Lead x time attribution of a network member's probability (Captum).

The attributed function is exactly what the member computes at prediction time:
the fold model's standardisation (``FoldState.transform_signals``), the sliding
windows of :func:`ensembler.training.windows.predict_windows`, the sigmoid and the
window aggregation (mean or max) of class ``c``'s probability. Autograd runs through
the overlapping windows, so a sample seen by several windows gets the sum of its
effects. Maps are averaged over the member's fold models, as its predictions are
averaged over level-0 sets.

Methods:

- ``ig``: Integrated Gradients (Sundararajan et al. 2017) from the baseline
  *zero after the member's standardisation*, i.e. every lead a flat line at that
  fold's training mean of the lead. Completeness: a record's attributions sum to
  ``p(x) - p(baseline)`` up to the integral's approximation error (``n_steps``).
  For the ECGs that are displayed.
- ``gxi``: gradient x input (one backward pass, the same baseline implicitly), for
  summaries over many ECGs.

Attributions are in units of the member's probability per standardised sample. They
show which samples the network's output is locally sensitive to, relative to a flat
line; they are not evidence that those samples carry the diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from ensembler.training.windows import window_starts

if TYPE_CHECKING:
    from ensembler.bundle.members import BundleMember, FoldModel

__all__ = ["METHODS", "lead_importance", "member_attribution", "windowed_probability"]

METHODS = ("ig", "gxi")
#: records x IG steps per backward pass (gradient x input: records per pass)
CHUNK_WINDOWS = 64


def windowed_probability(model: torch.nn.Module, n_samples: int, window: int | None,
                         stride: int | None, aggregate: str, cls: int
                         ) -> Callable[..., torch.Tensor]:
    """Differentiable twin of ``predict_windows`` for one class: (n, L, T) -> (n,)."""
    win = n_samples if window is None or window >= n_samples else window
    starts = window_starts(n_samples, win, stride or max(1, win // 2))

    def forward(x: torch.Tensor, tab: torch.Tensor | None = None) -> torch.Tensor:
        n, leads = x.shape[0], x.shape[1]
        w = torch.stack([x[:, :, s:s + win] for s in starts], dim=1)
        t = None if tab is None else tab.repeat_interleave(len(starts), dim=0)
        logits = model(w.reshape(n * len(starts), leads, win), t)
        p = torch.sigmoid(logits.float()).reshape(n, len(starts), -1)[:, :, cls]
        return p.mean(dim=1) if aggregate == "mean" else p.amax(dim=1)

    return forward


def _fold_attribution(fm: FoldModel, member: BundleMember, signals: np.ndarray,
                      tabular: np.ndarray | None, cls: int, method: str, n_steps: int
                      ) -> np.ndarray:
    from captum.attr import InputXGradient, IntegratedGradients

    x = torch.from_numpy(fm.state.transform_signals(signals))
    t_np = fm.state.transform_tabular(tabular)
    tab = None if t_np is None else torch.from_numpy(np.asarray(t_np, np.float32))
    fwd = windowed_probability(fm.model, x.shape[-1], member.window, member.stride,
                               member.spec.training.eval_aggregate, cls)
    fm.model.eval()
    with torch.enable_grad():
        if method == "ig":
            attr = IntegratedGradients(fwd).attribute(
                x, baselines=torch.zeros_like(x), additional_forward_args=(tab,),
                n_steps=n_steps, internal_batch_size=max(1, x.shape[0]) * n_steps)
        else:
            attr = InputXGradient(fwd).attribute(x.requires_grad_(True),
                                                 additional_forward_args=(tab,))
    return np.asarray(attr.detach().numpy(), dtype=np.float32)


def member_attribution(member: BundleMember, signals: np.ndarray, tabular: np.ndarray | None,
                       cls: int, method: str = "ig", n_steps: int = 32) -> np.ndarray:
    """(N, leads, T) attribution of class ``cls``'s probability, mean over fold models.

    Parameters
    ----------
    signals : (N, leads, T) float32 preprocessed as the bundle's ``preprocessing``
        (before the member's standardisation, which is applied here per fold model).
    tabular : (N, len(member.tabular_names)) raw values (NaN = missing) or None.
    method : ``"ig"`` (Integrated Gradients, ``n_steps`` Riemann steps) or ``"gxi"``.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    if not member.models:
        raise ValueError(f"member {member.name!r} has no fold model")
    x = np.asarray(signals, np.float32)
    # records in chunks, so memory stays bounded (IG batches all its steps at once)
    step = max(1, CHUNK_WINDOWS // (n_steps if method == "ig" else 1))
    parts = []
    for lo in range(0, len(x), step):
        t = None if tabular is None else tabular[lo:lo + step]
        parts.append(np.mean([_fold_attribution(fm, member, x[lo:lo + step], t, cls, method,
                                                n_steps) for fm in member.models], axis=0))
    return np.concatenate(parts) if parts else np.zeros_like(x)


def lead_importance(attr: np.ndarray) -> np.ndarray:
    """(N, leads) mean |attribution| over time, per record and lead."""
    return np.abs(np.asarray(attr)).mean(axis=-1)
