"""Search spaces of the sequence families: cnn_lstm, vit1d, ts_cnn, s4d (small, CPU-friendly).

What is searched is the family's ``ranges`` in the ``base_models`` registry (see
:mod:`ensembler.tuning.spaces.convnets`); these functions map it to hyper-parameters.
"""

from __future__ import annotations

from typing import Any

import optuna

from ensembler.tuning.spaces.common import suggest_family


def suggest_cnn_lstm(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """CNN front end (2-3 convs) + (bi)LSTM: conv width/kernel, LSTM hidden size/layers."""
    p = suggest_family(trial, "cnn_lstm")
    return {
        "conv_channels": [p["conv_width"]] * p["conv_layers"],
        **{k: p[k] for k in ("kernel_size", "hidden", "num_layers", "bidirectional", "readout")},
    }


def suggest_vit1d(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """ViT: patch size (samples), token dim, heads, depth, MLP ratio, token layout, pooling."""
    return suggest_family(trial, "vit1d")


def suggest_ts_cnn(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """Time-slicing CNN: slice length (the slice count is window / (slice * (1 - overlap))),
    overlap, per-slice CNN width/depth/kernel, and how slices are aggregated."""
    return suggest_family(trial, "ts_cnn")


def suggest_s4d(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """S4D (diagonal state space): width, depth, state size, S4D-Lin/Inv initialisation,
    bidirectional or causal, dropout inside the blocks and the initial step range."""
    return suggest_family(trial, "s4d")
