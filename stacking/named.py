"""The fixed comparison rows: best single member and the untuned blends."""

from __future__ import annotations

import numpy as np

from stacking.data import Level1Data
from stacking.metrics import macro_auc
from stacking.spec import StackSpec

__all__ = ["best_member", "named_stacks"]


def best_member(data: Level1Data) -> str:
    """The member with the best development OOF macro-AUC (ties: first listed).

    Chosen on development OOF only, never on test: the honest single-model baseline.
    """
    aucs = [macro_auc(data.y, data.oof[m]) for m in data.members]
    return data.members[int(np.nanargmax(aucs))]


def named_stacks(data: Level1Data, seed: int = 0) -> dict[str, StackSpec]:
    """Specs of the fixed rows every tuned stack is compared with.

    ``best_single``: the best member alone (through the same calibration
    choice as every stack); ``mean`` / ``rank_mean``: equal-weight mean of
    probabilities / ECDF ranks; ``greedy``: Caruana selection for AUC;
    ``weighted``: non-negative AUC weights. ``seed`` seeds the weighted pair sampling.
    """
    everyone = tuple(data.members)
    return {
        "best_single": StackSpec("best_single", (best_member(data),)),
        "mean": StackSpec("mean", everyone, transform="prob"),
        "rank_mean": StackSpec("mean", everyone, transform="rank"),
        "greedy": StackSpec("greedy", everyone, {"n_iter": 20, "metric": "auc"}),
        "weighted": StackSpec("weighted", everyone, {"objective": "auc", "random_state": seed}),
    }
