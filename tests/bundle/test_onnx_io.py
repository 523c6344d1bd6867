"""The bundle's ONNX exporter handles the s4d family (materialised real kernel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from base_models import create_model
from ensembler.bundle.onnx_io import export_onnx


def test_export_onnx_of_an_s4d_member(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("s4d", 12, 3, n_tabular=2, fusion="late", d_model=8, n_layers=1,
                         d_state=8).eval()
    path = tmp_path / "m.onnx"
    export_onnx(model, path, n_leads=12, window=80, n_tabular=2)
    x, tab = torch.randn(4, 12, 80), torch.randn(4, 2)
    with torch.no_grad():
        expected = model(x, tab).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"signal": x.numpy(), "tabular": tab.numpy()})
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    # the training path is back after export (FFT kernel, any length)
    assert model(torch.randn(1, 12, 200), torch.randn(1, 2)).shape == (1, 3)
