"""No family is a decoy: each fits a tiny batch, and each fusion mode learns from tabular."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from base_models import create_model

# small settings of every family, so a few dozen Adam steps run in well under a second
SMALL: dict[str, dict[str, Any]] = {
    "cnn1d": {"filters": [32, 32], "kernel_sizes": [8, 5]},
    "resnet1d": {"width": 16},
    "xresnet1d": {"depth": 18, "widen": 0.25},
    "inception1d": {"depth": 3, "filters": 8, "bottleneck": 8},
    "cnn_lstm": {"conv_channels": [16, 16], "hidden": 16},
    "vit1d": {"dim": 32, "depth": 2, "heads": 2, "patch_size": 10},
    "ts_cnn": {"width": 8, "slice_length": 40},
    "s4d": {"d_model": 32, "n_layers": 2, "d_state": 16, "layer_dropout": 0.0},
}


def _fit(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, tab=None, steps: int = 60):
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        logits = model(x, tab) if tab is not None else model(x)
        loss = F.binary_cross_entropy_with_logits(logits, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("family", [
    pytest.param(f, marks=pytest.mark.slow) if f in ("xresnet1d", "inception1d") else f
    for f in sorted(SMALL)])
def test_family_overfits_tiny_batch(family: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(16, 3, 120)
    y = (torch.rand(16, 2) < 0.5).float()  # random labels: only memorisation fits them
    model = create_model(family, 3, 2, dropout=0.0, **SMALL[family])
    losses = _fit(model, x, y)
    assert losses[-1] < 0.3 * losses[0], (family, losses[0], losses[-1])


@pytest.mark.parametrize("fusion", ["early", "intermediate", "late"])
def test_fusion_learns_from_tabular(fusion: str) -> None:
    """Labels depend only on the tabular columns (one of them half missing): every mode fits."""
    torch.manual_seed(0)
    n = 64
    x = torch.randn(n, 3, 60)
    tab = torch.randn(n, 2)
    tab[::2, 1] = float("nan")
    y = ((tab[:, 0] > 0) | torch.isnan(tab[:, 1])).float().unsqueeze(1)
    model = create_model(
        "cnn1d",
        3,
        1,
        n_tabular=2,
        fusion=fusion,
        filters=[8, 8],
        kernel_sizes=[5, 3],
        dropout=0.0,
        head_hidden=16,
    )
    model.train()
    losses = _fit(model, x, y, tab, steps=150)
    assert losses[-1] < 0.25, (fusion, losses[0], losses[-1])
    model.eval()
    with torch.no_grad():
        acc = ((model(x, tab) > 0).float() == y).float().mean()
    assert acc > 0.9
