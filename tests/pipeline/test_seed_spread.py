"""The primary Δ recomputed per members' training seed (configuration fixed)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from ensembler.pipeline.seed_spread import primary_seed_deltas
from stacking import Level1Data, StackSpec, macro_auc


def _data(seed: int = 0) -> tuple[Level1Data, np.ndarray]:
    """Members a-s0, a-s1 (two seeds of one recipe, different noise) and b."""
    rng = np.random.default_rng(seed)
    n_dev, n_test, k = 240, 200, 3
    z = rng.normal(size=(n_dev + n_test, 1))
    y = (rng.random(z.shape) < expit(2 * z)).astype(np.int64)

    def member(noise: float) -> tuple[np.ndarray, np.ndarray]:
        s = expit(z + noise * rng.normal(size=z.shape))
        return s[:n_dev], np.stack([s[n_dev:]] * k)

    views = {"a-s0": member(0.6), "a-s1": member(1.5), "b": member(1.0)}
    groups = np.arange(n_dev)
    return Level1Data(
        members=list(views), class_names=["c"], oof={m: v[0] for m, v in views.items()},
        test_by_fold={m: v[1] for m, v in views.items()}, y=y[:n_dev], groups=groups,
        folds=groups % k, tabular_dev=None, tabular_test=None, tabular_names=[],
        member_cost_ms={}), y[n_dev:]


def test_one_delta_per_seed_with_the_seed_swapped_in() -> None:
    data, y_test = _data()
    replicas = {"a-s0": ("a", 0), "a-s1": ("a", 1)}
    stack = StackSpec(learner="mean", members=("a-s0", "b"), calibration="none")
    single = StackSpec(learner="mean", members=("a-s0",), calibration="none")
    deltas = primary_seed_deltas(data, (stack, single), replicas, y_test, seed=0,
                                 calibration=["none"])
    assert deltas is not None and len(deltas) == 2
    for s, d in enumerate(deltas):
        a = data.test_by_fold[f"a-s{s}"][0]
        b = data.test_by_fold["b"][0]
        assert d == pytest.approx(macro_auc(y_test, (a + b) / 2) - macro_auc(y_test, a))
    assert deltas[0] != deltas[1]  # the noisier seed moves Δ: training noise made visible


def test_no_spread_without_seed_replicas_in_the_pair() -> None:
    data, y_test = _data()
    only_b = StackSpec(learner="mean", members=("b",), calibration="none")
    assert primary_seed_deltas(data, (only_b, only_b), {"a-s0": ("a", 0), "a-s1": ("a", 1)},
                               y_test, seed=0, calibration=["none"]) is None


def test_seed_replicas_read_from_the_members_config() -> None:
    from types import SimpleNamespace
    from typing import Any, cast

    from ensembler.pipeline.seed_spread import seed_replicas
    from ensembler.training.member_meta import MemberMeta

    def member(replica: list[Any] | None, entry: str) -> Any:
        conf = {"entry": entry, **({"replica": replica} if replica else {})}
        return SimpleNamespace(meta=MemberMeta(member=entry, config=conf))

    preds = {"a-s0": member(["seed", 0], "a"), "a-s1": member(["seed", 1], "a"),
             "a-b0": member(["bootstrap", 0], "a"), "b": member(None, "b")}
    assert seed_replicas(cast(Any, preds)) == {"a-s0": ("a", 0), "a-s1": ("a", 1)}
