"""Every registered architecture x every fusion mode: shapes, finiteness, gradients, lengths."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from base_models import FUSION_MODES, EcgModel, InputShapeError, create_model, list_models

N_LEADS, N_CLASSES, N_TAB = 3, 4, 2


def _small(name: str) -> dict[str, float]:
    """The 6-34 M-parameter xresnets at a quarter width keep this file fast on a shared
    2-core CPU; their default widths are built and run in test_registry."""
    return {"widen": 0.25} if name.startswith("xresnet") else {}


def _build(name: str, n_leads: int, n_classes: int, **kwargs: Any) -> EcgModel:
    """``create_model`` typed as the built-in interface (every built-in family is one)."""
    model = create_model(name, n_leads, n_classes, **kwargs)
    assert isinstance(model, EcgModel)
    return model


def _inputs(model: EcgModel, length: int, batch: int = 2) -> tuple[torch.Tensor, ...]:
    x = torch.randn(batch, N_LEADS, length)
    tab = torch.randn(batch, N_TAB)
    tab[0, 1] = float("nan")
    return (x, tab) if model.fusion != "none" else (x,)


@pytest.mark.parametrize("fusion", FUSION_MODES)
@pytest.mark.parametrize("name", list_models())
def test_forward_backward_any_length(name: str, fusion: str) -> None:
    torch.manual_seed(0)
    n_tab = N_TAB if fusion != "none" else 0
    model = _build(name, N_LEADS, N_CLASSES, n_tabular=n_tab, fusion=fusion, **_small(name))
    lo = model.min_length
    for length in (lo, lo + 7, 3 * lo + 13):
        out = model(*_inputs(model, length))
        assert out.shape == (2, N_CLASSES), (name, length)
        assert torch.isfinite(out).all(), (name, length)
    out.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0
    if fusion == "late":  # the tabular branch receives gradient
        assert isinstance(model.tabular_head, torch.nn.Sequential)
        first = model.tabular_head[0]
        assert isinstance(first, torch.nn.Linear)
        grad = first.weight.grad
        assert grad is not None and grad.abs().sum() > 0


@pytest.mark.parametrize("name", list_models())
def test_features_head_split_and_eval(name: str) -> None:
    torch.manual_seed(0)
    model = _build(
        name, N_LEADS, N_CLASSES, n_tabular=N_TAB, fusion="intermediate", **_small(name)
    ).eval()
    x, tab = _inputs(model, 2 * model.min_length + 3, batch=3)
    with torch.no_grad():
        feats = model.forward_features(x, tab)
        assert feats.shape == (3, model.num_features)
        torch.testing.assert_close(model.forward_head(feats, tab), model(x, tab))
        # eval mode is per-record: a record predicts the same alone as in a batch
        torch.testing.assert_close(model(x[:1], tab[:1]), model(x, tab)[:1], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["resnet1d_wang", "vit1d", "cnn_lstm", "ts_cnn"])
def test_deterministic_algorithms(name: str) -> None:
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        grads = []
        for _ in range(2):
            torch.manual_seed(1)
            model = _build(name, N_LEADS, N_CLASSES)
            x = torch.randn(4, N_LEADS, 3 * model.min_length)
            model(x).square().mean().backward()
            grads.append(torch.cat([p.grad.flatten() for p in model.parameters()
                                    if p.grad is not None]))
        assert torch.equal(grads[0], grads[1])
    finally:
        torch.use_deterministic_algorithms(previous)


def test_missing_indicator_changes_prediction() -> None:
    torch.manual_seed(0)
    model = _build("cnn1d", N_LEADS, N_CLASSES, n_tabular=N_TAB, fusion="late").eval()
    x = torch.randn(1, N_LEADS, 50)
    with torch.no_grad():
        zero = model(x, torch.zeros(1, N_TAB))
        nan = model(x, torch.tensor([[0.0, float("nan")]]))
    assert torch.isfinite(nan).all()
    assert not torch.allclose(zero, nan)


def test_float64_tabular_is_accepted() -> None:
    model = _build("cnn1d", N_LEADS, N_CLASSES, n_tabular=N_TAB, fusion="early").eval()
    x, tab = torch.randn(2, N_LEADS, 40), torch.randn(2, N_TAB)
    with torch.no_grad():
        torch.testing.assert_close(model(x, tab.double()), model(x, tab))


def test_input_errors_name_the_problem() -> None:
    model = _build("resnet1d_wang", 12, 2, width=16)
    with pytest.raises(InputShapeError, match=r"\(batch, 12, samples\)"):
        model(torch.randn(2, 3, 100))
    with pytest.raises(InputShapeError, match="min_length"):
        model(torch.randn(2, 12, model.min_length - 1))
    with pytest.raises(InputShapeError, match="fusion='none'"):
        model(torch.randn(2, 12, 100), torch.randn(2, 3))
    fused = _build("resnet1d_wang", 12, 2, n_tabular=3, fusion="early", width=16)
    with pytest.raises(InputShapeError, match="needs tabular"):
        fused(torch.randn(2, 12, 100))
    with pytest.raises(InputShapeError, match=r"\(2, 3\)"):
        fused(torch.randn(2, 12, 100), torch.randn(2, 4))
    vit = _build("vit1d", 12, 2, positions="learned", max_patches=4, patch_size=10)
    with pytest.raises(InputShapeError, match="max_patches"):
        vit(torch.randn(1, 12, 50))
