"""Search spaces of the convolutional families: cnn1d, resnet1d, xresnet1d, inception1d.

Widths are kept small (CPU-friendly: a few trials must run on a 2-core laptop); widen
them in a user space for GPU studies. Every function returns the family's model
hyper-parameters as accepted by ``base_models.create_model``.
"""

from __future__ import annotations

from typing import Any

import optuna


def suggest_cnn1d(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """FCN-style plain CNN: depth 2-4 blocks of ``width`` (2x in the middle), first kernel
    5/7/9 then 3/5, global avg or concat pooling."""
    depth = trial.suggest_int("depth", 2, 4)
    width = trial.suggest_categorical("width", [16, 32, 64])
    k0 = trial.suggest_categorical("first_kernel", [5, 7, 9])
    k = trial.suggest_categorical("kernel", [3, 5])
    return {
        "filters": [width * (2 if 0 < i < depth - 1 else 1) for i in range(depth)],
        "kernel_sizes": [k0] + [k] * (depth - 1),
        "pool": trial.suggest_categorical("pool", ["avg", "concat"]),
    }


def suggest_resnet1d(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """ResNet (Wang et al.): width, 1-2 blocks per stage, block kernels, stem, head."""
    blocks = trial.suggest_int("blocks_per_stage", 1, 2)
    return {
        "width": trial.suggest_categorical("width", [16, 32, 64]),
        "layers": [blocks] * 3,
        "kernel_sizes": [
            trial.suggest_categorical("kernel_1", [3, 5, 7]),
            trial.suggest_categorical("kernel_2", [3, 5]),
        ],
        "stem_kernel": trial.suggest_categorical("stem_kernel", [5, 7, 9]),
        "head_hidden": trial.suggest_categorical("head_hidden", [0, 64]),
    }


def suggest_xresnet1d(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """xResNet (ResNet-D): depth 18/34, widen 1/8-1/2, kernel, stem kernel, head."""
    return {
        "depth": trial.suggest_categorical("depth", [18, 34]),
        "widen": trial.suggest_categorical("widen", [0.125, 0.25, 0.5]),
        "kernel_size": trial.suggest_categorical("kernel_size", [3, 5, 7]),
        "stem_kernel": trial.suggest_categorical("stem_kernel", [3, 5, 7]),
        "head_hidden": trial.suggest_categorical("head_hidden", [0, 64]),
    }


_INCEPTION_KERNELS = {"long": [39, 19, 9], "medium": [19, 9, 5], "short": [9, 5, 3]}


def suggest_inception1d(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """InceptionTime: 3 or 6 modules (residual every 3), filters, bottleneck, kernel set."""
    kernels = trial.suggest_categorical("kernel_set", sorted(_INCEPTION_KERNELS))
    return {
        "depth": trial.suggest_categorical("depth", [3, 6]),
        "filters": trial.suggest_categorical("filters", [8, 16, 32]),
        "bottleneck": trial.suggest_categorical("bottleneck", [8, 16, 32]),
        "kernel_sizes": list(_INCEPTION_KERNELS[str(kernels)]),
        "head_hidden": trial.suggest_categorical("head_hidden", [0, 64]),
    }
