"""One small model per family exports to ONNX (opset 17, dynamic batch) and matches torch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from base_models import create_model, materialized_kernels

CASES = [
    ("cnn1d", "none", {"filters": [8, 8], "kernel_sizes": [8, 3]}),
    ("resnet1d", "early", {"width": 8}),
    ("xresnet1d", "none", {"depth": 18, "widen": 0.125}),
    ("inception1d", "intermediate", {"depth": 3, "filters": 4, "bottleneck": 4}),
    ("cnn_lstm", "late", {"conv_channels": [8], "hidden": 8}),
    ("cnn_lstm", "none", {"conv_channels": [8], "hidden": 8, "readout": "last"}),
    ("vit1d", "none", {"dim": 16, "depth": 1, "heads": 2}),
    (
        "vit1d",
        "late",
        {
            "dim": 16,
            "depth": 1,
            "heads": 2,
            "tokens": "per_lead",
            "positions": "learned",
            "pool": "mean",
        },
    ),
    ("ts_cnn", "none", {"width": 4, "slice_length": 40, "aggregate": "gru"}),
    ("ts_cnn", "none", {"width": 4, "slice_length": 40, "aggregate": "attention"}),
    ("s4d", "late", {"d_model": 8, "n_layers": 1, "d_state": 8}),
    ("s4d_inv", "none", {"d_model": 8, "n_layers": 2, "d_state": 8, "bidirectional": False}),
]


@pytest.mark.parametrize(("name", "fusion", "hp"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_onnx_export_matches_torch(name: str, fusion: str, hp: dict, tmp_path: Path) -> None:
    torch.manual_seed(0)
    n_tab = 2 if fusion != "none" else 0
    model = create_model(name, 3, 2, n_tabular=n_tab, fusion=fusion, **hp).eval()
    length = 120
    x = torch.randn(2, 3, length)
    args: tuple[torch.Tensor, ...] = (x,)
    names = ["x"]
    if n_tab:
        args = (x, torch.randn(2, n_tab))
        names.append("tabular")
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings(), materialized_kernels(model, length):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            args,
            str(path),
            opset_version=17,
            dynamo=False,
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**{k: {0: "batch"} for k in names}, "logits": {0: "batch"}},
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # a different batch size than at export, and a NaN in the tabular input
    x5 = torch.randn(5, 3, length)
    feeds = {"x": x5.numpy()}
    ref_args: tuple[torch.Tensor, ...] = (x5,)
    if n_tab:
        tab5 = torch.randn(5, n_tab)
        tab5[1, 0] = float("nan")
        feeds["tabular"] = tab5.numpy()
        ref_args = (x5, tab5)
    with torch.no_grad():
        expected = model(*ref_args).numpy()
    (got,) = session.run(None, feeds)
    assert got.shape == (5, 2)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
