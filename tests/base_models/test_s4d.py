"""The s4d family is a state-space model: FFT kernel path == step-by-step recurrence."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from base_models import InputShapeError, InvalidHParamError, create_model, materialized_kernels
from base_models.s4d import S4DConv, s4d_imag_init


def _recurrence(layer: S4DConv, u: torch.Tensor) -> torch.Tensor:
    """Run the discretised diagonal SSM one sample at a time (complex128), (B, H, L) -> same.

    x_k = dA x_{k-1} + dB u_k,  y_k = 2 Re(C x_k) + D u_k  (causal direction); the
    backward direction runs the same recurrence from the end and reads the state one
    sample ahead (it sees u_{k+1}, u_{k+2}, ...).
    """
    d_a, d_b, c = (t.detach().to(torch.complex128) for t in layer.discrete())
    d = layer.d.detach().double()
    h = u.shape[1]
    u64 = u.double()
    y = u64 * d[None, :, None]
    x = torch.zeros(u.shape[0], h, d_a.shape[1], dtype=torch.complex128)
    for k in range(u.shape[-1]):
        x = d_a[:h] * x + d_b[:h] * u64[:, :, k, None]
        y[:, :, k] += 2 * (c[:h] * x).sum(-1).real
    if layer.bidirectional:
        x = torch.zeros_like(x)
        for k in range(u.shape[-1] - 1, 0, -1):
            x = d_a[h:] * x + d_b[h:] * u64[:, :, k, None]
            y[:, :, k - 1] += 2 * (c[h:] * x).sum(-1).real
    return y


@pytest.mark.parametrize("init", ["lin", "inv"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_fft_path_equals_recurrence(init: str, bidirectional: bool) -> None:
    torch.manual_seed(0)
    layer = S4DConv(channels=6, d_state=16, init=init, bidirectional=bidirectional)
    u = torch.randn(3, 6, 257)
    with torch.no_grad():
        fft = layer(u).double()
    rec = _recurrence(layer, u)
    err = float((fft - rec).abs().max())
    assert err < 1e-5, err
    assert float(rec.abs().max()) > 0.1  # a non-trivial output


def test_published_initialisations() -> None:
    # S4D-Lin: A_n = -1/2 + i pi n; S4D-Inv: A_n = -1/2 + i N/pi (N/(2n+1) - 1)
    torch.testing.assert_close(s4d_imag_init("lin", 8), math.pi * torch.arange(4.0))
    n = torch.arange(4.0)
    torch.testing.assert_close(s4d_imag_init("inv", 8), 8 / math.pi * (8 / (2 * n + 1) - 1))
    layer = S4DConv(channels=4, d_state=8, init="inv", dt_min=1e-3, dt_max=1e-1)
    a = layer.continuous_a()
    torch.testing.assert_close(a.real, torch.full((4, 4), -0.5))
    dt = layer.log_dt.exp()
    assert bool(((dt >= 1e-3) & (dt <= 1e-1)).all())
    with pytest.raises(InvalidHParamError, match="'init'='legs'"):
        S4DConv(channels=4, init="legs")
    with pytest.raises(InvalidHParamError, match="'d_state'=7"):
        S4DConv(channels=4, d_state=7)


def test_materialised_kernel_equals_fft_path() -> None:
    torch.manual_seed(1)
    model = create_model("s4d", 3, 2, d_model=8, n_layers=2, d_state=8).eval()
    x = torch.randn(4, 3, 120)
    with torch.no_grad():
        ref = model(x)
        with materialized_kernels(model, 120):
            conv = model(x)
            shorter = model(x[:, :, :100])
            with pytest.raises(InputShapeError, match="materialised for 120 samples"):
                model(torch.randn(1, 3, 121))
        assert model(x[:, :, :100]).shape == (4, 2)
    torch.testing.assert_close(conv, ref, atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        torch.testing.assert_close(shorter, model(x[:, :, :100]), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["s4d", "s4d_inv"])
def test_onnx_export_through_real_kernel(name: str, tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort

    torch.manual_seed(0)
    model = create_model(name, 3, 2, d_model=8, n_layers=2, d_state=8).eval()
    path = tmp_path / "s4d.onnx"
    with materialized_kernels(model, 100), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(2, 3, 100),), str(path), opset_version=17,
                          dynamo=False, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "Conv" in ops and not ops & {"DFT", "STFT"}
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(5, 3, 100)
    with torch.no_grad():
        expected = model(x).numpy()
    (got,) = session.run(None, {"x": x.numpy()})
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_ssm_a_and_step_are_exempt_from_weight_decay() -> None:
    from base_models import param_groups

    model = create_model("s4d", 3, 2, d_model=8, n_layers=2, d_state=8)
    decay, plain = param_groups(model, 0.05)
    assert decay["weight_decay"] == 0.05 and plain["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    exempt = sorted(names[id(p)].rsplit(".", 1)[-1] for p in plain["params"])  # type: ignore[attr-defined]
    assert exempt == sorted(["log_dt", "log_neg_re_a", "im_a"] * 2)
    assert len(param_groups(create_model("cnn1d", 3, 2), 0.05)) == 1  # no exemptions
