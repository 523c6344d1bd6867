"""Search spaces of the sequence families: cnn_lstm, vit1d, ts_cnn, s4d (small, CPU-friendly)."""

from __future__ import annotations

from typing import Any

import optuna


def suggest_cnn_lstm(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """CNN front end (2-3 convs) + (bi)LSTM: conv width/kernel, LSTM hidden size/layers."""
    n_conv = trial.suggest_int("conv_layers", 2, 3)
    width = trial.suggest_categorical("conv_width", [16, 32, 64])
    return {
        "conv_channels": [width] * n_conv,
        "kernel_size": trial.suggest_categorical("kernel_size", [5, 7, 9]),
        "hidden": trial.suggest_categorical("hidden", [16, 32, 64]),
        "num_layers": trial.suggest_int("num_layers", 1, 2),
        "bidirectional": trial.suggest_categorical("bidirectional", [True, False]),
        "readout": trial.suggest_categorical("readout", ["pool", "last"]),
    }


def suggest_vit1d(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """ViT: patch size (samples), token dim, heads, depth, MLP ratio, token layout, pooling."""
    return {
        "patch_size": trial.suggest_categorical("patch_size", [10, 25, 50]),
        "dim": trial.suggest_categorical("dim", [32, 64]),
        "heads": trial.suggest_categorical("heads", [2, 4]),
        "depth": trial.suggest_int("depth", 1, 4),
        "mlp_ratio": trial.suggest_categorical("mlp_ratio", [2.0, 4.0]),
        "tokens": trial.suggest_categorical("tokens", ["all_leads", "per_lead"]),
        "pool": trial.suggest_categorical("pool", ["cls", "mean"]),
    }


def suggest_ts_cnn(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """Time-slicing CNN: slice length (the slice count is window / (slice * (1 - overlap))),
    overlap, per-slice CNN width/depth/kernel, and how slices are aggregated."""
    return {
        "slice_length": trial.suggest_categorical("slice_length", [25, 50, 100]),
        "overlap": trial.suggest_float("overlap", 0.0, 0.75),
        "width": trial.suggest_categorical("width", [16, 32]),
        "depth": trial.suggest_int("depth", 2, 3),
        "kernel_size": trial.suggest_categorical("kernel_size", [5, 7]),
        "aggregate": trial.suggest_categorical("aggregate", ["mean", "attention", "gru"]),
    }


def suggest_s4d(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """S4D (diagonal state space): width, depth, state size, S4D-Lin/Inv initialisation,
    bidirectional or causal, dropout inside the blocks and the initial step range."""
    return {
        "d_model": trial.suggest_categorical("d_model", [32, 64, 128]),
        "n_layers": trial.suggest_int("n_layers", 2, 4),
        "d_state": trial.suggest_categorical("d_state", [16, 32, 64]),
        "init": trial.suggest_categorical("init", ["lin", "inv"]),
        "bidirectional": trial.suggest_categorical("bidirectional", [True, False]),
        "layer_dropout": trial.suggest_float("layer_dropout", 0.0, 0.3),
        "dt_max": trial.suggest_categorical("dt_max", [0.01, 0.1]),
    }
