"""Member models of a bundle: rebuilt from architecture + safetensors, run like in training.

Weights are read with ``safetensors.torch.load`` from bytes that were verified
beforehand; the fitted per-fold preprocessing state comes from JSON. Prediction
reuses the trainer's own ``FoldState`` transforms and ``predict_windows``, so a
bundle scores a record exactly as the fold model did during the run.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from ensembler.errors import BundleIntegrityError
from ensembler.training.loop import build_model
from ensembler.training.members import MemberSpec
from ensembler.training.members import spec_from_description as spec_from_description
from ensembler.training.state import FoldState
from ensembler.training.windows import predict_windows, window_starts


@dataclass
class FoldModel:
    """One trained network (a fold model, or the refit-full model) with its fitted state."""

    label: str  # "fold_0" ... or "full"
    model: torch.nn.Module
    state: FoldState
    onnx: Any = None  # onnxruntime.InferenceSession when loaded with backend="onnx"


@dataclass
class BundleMember:
    """A member: its spec, windowing, tabular columns and one FoldModel per level-0 set."""

    spec: MemberSpec
    window: int | None
    stride: int | None
    models: list[FoldModel] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def tabular_names(self) -> list[str]:
        return list(self.spec.tabular_names)

    kind: str = "network"

    def predict_sets(self, signals: np.ndarray, tabulars: list[np.ndarray | None],
                     backend: str = "torch") -> np.ndarray:
        """(n_sets, N, C): :meth:`predict` of every model, ``tabulars[k]`` for model k."""
        return np.stack([self.predict(k, signals, tabulars[k], backend)
                         for k in range(len(self.models))])

    def predict(self, k: int, signals: np.ndarray, tabular: np.ndarray | None,
                backend: str = "torch") -> np.ndarray:
        """(N, C) probabilities of model ``k`` for preprocessed ``signals`` (N, leads, T).

        ``tabular`` is (N, len(tabular_names)) raw values (NaN = missing) or None.
        """
        fm = self.models[k]
        x = fm.state.transform_signals(signals)
        t = fm.state.transform_tabular(tabular)
        aggregate = self.spec.training.eval_aggregate
        if backend == "onnx":
            return onnx_predict_windows(fm.onnx, x, t, self.window, self.stride, aggregate)
        return predict_windows(fm.model, x, t, self.window, self.stride, aggregate)


def load_fold_model(spec: MemberSpec, label: str, weights: bytes, state_json: str,
                    n_leads: int, n_classes: int, where: str,
                    allow_arch: Collection[str] = ()) -> FoldModel:
    """Rebuild the architecture, load weights from verified bytes (strict), eval mode.

    ``allow_arch``: user architectures the loading user allowed to be imported (see
    :func:`ensembler.bundle.weights.check_architectures`). The weights' names, dtypes
    and shapes must match the architecture exactly.
    """
    from ensembler.bundle.weights import compare_headers, header_of_tensors

    model = build_model(spec, n_leads=n_leads, n_classes=n_classes, allow_user=allow_arch)
    try:
        tensors = load_safetensors(weights)
    except SafetensorError as exc:
        raise BundleIntegrityError(f"{where}: not a valid safetensors file ({exc})") from None
    compare_headers(header_of_tensors(tensors), header_of_tensors(model.state_dict()), where,
                    spec.arch)
    try:
        model.load_state_dict(tensors, strict=True)
    except (RuntimeError, ValueError) as exc:
        raise BundleIntegrityError(
            f"{where}: weights do not fit architecture {spec.arch!r} ({exc})"
        ) from None
    model.eval()
    return FoldModel(label=label, model=model, state=FoldState(**json.loads(state_json)))


def onnx_predict_windows(session: Any, signals: np.ndarray, tabular: np.ndarray | None,
                         window: int | None, stride: int | None, aggregate: str) -> np.ndarray:
    """ONNX Runtime twin of :func:`predict_windows` (same windows, sigmoid, aggregation)."""
    n, leads, t = signals.shape
    win = t if window is None or window >= t else window
    starts = window_starts(t, win, stride or max(1, win // 2))
    x = np.stack([signals[:, :, s : s + win] for s in starts], axis=1)
    feeds = {"signal": np.ascontiguousarray(x.reshape(n * len(starts), leads, win), np.float32)}
    if tabular is not None:
        feeds["tabular"] = np.repeat(np.asarray(tabular, np.float32), len(starts), axis=0)
    logits = session.run(["logits"], feeds)[0].astype(np.float32)
    probs = (1.0 / (1.0 + np.exp(-logits))).reshape(n, len(starts), -1)
    agg = probs.mean(axis=1) if aggregate == "mean" else probs.max(axis=1)
    return agg.astype(np.float32)
