"""Seed-to-seed spread of the primary Δ: how much of it is the members' training noise.

When members have seed replicas (``models[i].seeds > 1``), the primary pair (joint
stack, best single) is rebuilt once per seed index: every seed replica in the two
configurations is swapped for the replica of that seed, the configurations
themselves stay fixed (chosen once, on development data), each is refitted on that
seed's out-of-fold predictions, and Δ is measured on the test set. The spread of
those Δs is reported next to the bootstrap CI; nothing is chosen from it.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from ensembler.training.metrics import macro_auc
from ensembler.training.predictions import MemberPredictions

__all__ = ["primary_seed_deltas", "seed_replicas"]


def seed_replicas(preds: dict[str, MemberPredictions]) -> dict[str, tuple[str, int]]:
    """``{member: (entry, seed index)}`` of every seed replica among the members."""
    out = {}
    for m, p in preds.items():
        kind, index = p.meta.replica
        if kind == "seed":
            out[m] = (p.meta.entry, index)
    return out


def _for_seed(spec: Any, replicas: dict[str, tuple[str, int]],
              name_of: dict[tuple[str, int], str], s: int) -> Any:
    members = tuple(dict.fromkeys(
        name_of[(replicas[m][0], s)] if m in replicas else m for m in spec.members))
    return dataclasses.replace(spec, members=members)


def primary_seed_deltas(data: Any, specs: tuple[Any, Any],
                        replicas: dict[str, tuple[str, int]], y_test: np.ndarray, seed: int,
                        calibration: list[str]) -> list[float] | None:
    """Primary Δ (macro AUC of ``specs[0]`` − ``specs[1]`` on the test set) per seed index.

    Args:
        data: the run's :class:`stacking.Level1Data` (every member, every replica).
        specs: the StackSpecs of the primary pair (a, b).
        replicas: :func:`seed_replicas` of the members.
        y_test: (N_test, C) test labels.

    Returns:
        One Δ per seed index, or None when neither configuration holds a seed replica
        or fewer than two seed indices exist for every replicated entry involved.
    """
    from sklearn.exceptions import ConvergenceWarning

    from stacking import fit_stack

    involved = {replicas[m][0] for sp in specs for m in sp.members if m in replicas}
    if not involved:
        return None
    name_of = {rep: m for m, rep in replicas.items()}
    n_seeds = min(sum(1 for e, _ in replicas.values() if e == entry) for entry in involved)
    if n_seeds < 2:
        return None
    tab = data.tabular_test if data.tabular_names else None
    deltas = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for s in range(n_seeds):
            aucs = []
            for spec in specs:
                fitted = fit_stack(data, _for_seed(spec, replicas, name_of, s), seed=seed,
                                   calibration_methods=calibration)
                test_p = fitted.predict_test(
                    {m: data.test_by_fold[m] for m in fitted.spec.members}, tab)
                aucs.append(macro_auc(y_test, test_p))
            deltas.append(float(aucs[0] - aucs[1]))
    return deltas
