"""ONNX export of member networks and the torch-vs-ONNX Runtime check."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from base_models import materialized_kernels
from ensembler.bundle.members import (
    FoldModel,
    load_fold_model,
    onnx_predict_windows,
)
from ensembler.training.members import spec_from_description
from ensembler.training.windows import predict_windows

OPSET = 17


def export_onnx(model: torch.nn.Module, path: Path, n_leads: int, window: int,
                n_tabular: int) -> None:
    """Export ``model(signal (B, leads, window)[, tabular (B, F)]) -> logits (B, C)``.

    The batch axis is dynamic; the window length is fixed (the member's crop window or
    the full record), exactly what :func:`onnx_predict_windows` feeds. Uses the
    TorchScript-based exporter, which handles the NaN-safe tabular branch.
    """
    model.eval()
    args: tuple[torch.Tensor, ...] = (torch.zeros(2, n_leads, window),)
    names = ["signal"]
    if n_tabular:
        args = (*args, torch.zeros(2, n_tabular))
        names.append("tabular")
    buf = io.BytesIO()
    # families with complex-valued kernels (s4d) export their materialised real kernel
    with warnings.catch_warnings(), materialized_kernels(model, window):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, buf,  # type: ignore[arg-type]  # BytesIO is accepted
                          input_names=names, output_names=["logits"],
                          dynamic_axes={n: {0: "batch"} for n in [*names, "logits"]},
                          opset_version=OPSET, dynamo=False)
    path.write_bytes(buf.getvalue())


def onnx_max_abs_diff(fm: FoldModel, path: Path, signals: np.ndarray,
                      tabular: np.ndarray | None, window: int | None, stride: int | None,
                      aggregate: str) -> float:
    """Max |p_onnx - p_torch| over ``signals`` (N, leads, T) raw (state applied here)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])
    x = fm.state.transform_signals(signals)
    t = fm.state.transform_tabular(tabular)
    p_torch = predict_windows(fm.model, x, t, window, stride, aggregate)
    p_onnx = onnx_predict_windows(sess, x, t, window, stride, aggregate)
    return float(np.max(np.abs(p_torch - p_onnx))) if len(x) else 0.0


def export_members_onnx(member_entries: list[dict[str, Any]], tmp: Path, x: np.ndarray,
                 t: np.ndarray | None, tab_names: list[str], n_classes: int,
                 own_archs: list[str]) -> dict[str, Any]:
    """Export every member network of a bundle folder ``tmp`` to ``onnx/<member>/<label>.onnx``
    (adds ``onnx`` to each model entry) and measure max |p_onnx - p_torch| on ``x``."""
    diffs: dict[str, float] = {}
    for m in member_entries:
        if m.get("kind") == "features":  # LightGBM text boosters: run by LightGBM itself
            continue
        spec = spec_from_description(m["spec"])
        cols = [tab_names.index(n) for n in spec.tabular_names]
        for mdl in m["models"]:
            fm = load_fold_model(spec, mdl["label"], (tmp / mdl["weights"]).read_bytes(),
                                 (tmp / mdl["state"]).read_text(), x.shape[1], n_classes,
                                 mdl["weights"], own_archs)
            rel = f"onnx/{m['name']}/{mdl['label']}.onnx"
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            win = m["window"] or x.shape[-1]
            export_onnx(fm.model, tmp / rel, x.shape[1], win, len(cols))
            mdl["onnx"] = rel
            tt = None if not cols or t is None else t[:, cols]
            diffs[f"{m['name']}/{mdl['label']}"] = onnx_max_abs_diff(
                fm, tmp / rel, x, tt, m["window"], m["stride"], m["aggregate"])
    return {"enabled": True, "opset": 17, "max_abs_diff_vs_torch": diffs,
            "checked_on": f"{x.shape[0]} records (test set where available), probabilities"}
