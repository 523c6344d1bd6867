"""Search spaces of the convolutional families: cnn1d, resnet1d, xresnet1d, inception1d.

What is searched (names, bounds, choices) is the family's ``ranges`` in the
``base_models`` registry, sampled by :func:`suggest_family`; each function here only turns
the sampled values into the family's model hyper-parameters as accepted by
``base_models.create_model``. Widths are kept small (CPU-friendly: a few trials must run
on a 2-core laptop); widen them in a user space for GPU studies.
"""

from __future__ import annotations

from typing import Any

import optuna

from base_models.inception1d import KERNEL_SETS
from ensembler.tuning.spaces.common import suggest_family


def suggest_cnn1d(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """FCN-style plain CNN: depth 2-4 blocks of ``width`` (2x in the middle), first kernel
    5/7/9 then 3/5, global avg or concat pooling."""
    p = suggest_family(trial, "cnn1d")
    depth, width = p["depth"], p["width"]
    return {
        "filters": [width * (2 if 0 < i < depth - 1 else 1) for i in range(depth)],
        "kernel_sizes": [p["first_kernel"]] + [p["kernel"]] * (depth - 1),
        "pool": p["pool"],
    }


def suggest_resnet1d(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """ResNet (Wang et al.): width, 1-2 blocks per stage, block kernels, stem, head."""
    p = suggest_family(trial, "resnet1d")
    return {
        "width": p["width"],
        "layers": [p["blocks_per_stage"]] * 3,
        "kernel_sizes": [p["kernel_1"], p["kernel_2"]],
        "stem_kernel": p["stem_kernel"],
        "head_hidden": p["head_hidden"],
    }


def suggest_xresnet1d(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """xResNet (ResNet-D): depth 18/34, widen 1/8-1/2, kernel, stem kernel, head."""
    return suggest_family(trial, "xresnet1d")


def suggest_inception1d(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """InceptionTime: 3 or 6 modules (residual every 3), filters, bottleneck, kernel set."""
    p = suggest_family(trial, "inception1d")
    return {
        "depth": p["depth"],
        "filters": p["filters"],
        "bottleneck": p["bottleneck"],
        "kernel_sizes": list(KERNEL_SETS[str(p["kernel_set"])]),
        "head_hidden": p["head_hidden"],
    }
