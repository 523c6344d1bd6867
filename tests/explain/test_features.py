"""Feature members' contributions: exact on the log-odds for both learners, mapped to leads."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.special import logit

from ensembler.bundle.feature_io import FeatureBundleMember, FeatureFoldModel
from ensembler.explain.features import column_owner, feature_attribution
from ensembler.training.feature_learners import BoosterModel, fit_logistic

LEADS = ["I", "II", "V1"]


class _Set:
    """Two per-lead columns per lead and one global column."""

    name, version = "toy", "1"

    def column_specs(self) -> list:  # type: ignore[type-arg]
        return []

    def columns(self, lead_names):  # type: ignore[no-untyped-def]
        return [f"{lead}:{k}" for lead in lead_names for k in ("min", "max")] + ["rate"]

    def compute(self, signal, fs, lead_names):  # type: ignore[no-untyped-def]
        return np.array([f(s) for s in signal for f in (np.min, np.max)]
                        + [float(np.abs(np.diff(signal)).mean())], np.float32)

    def spec(self) -> dict:  # type: ignore[type-arg]
        return {"name": self.name, "version": self.version}


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3, 50))
    y = (rng.random(n) < 0.5).astype(int)
    x[y == 1, 2] -= 1.5  # V1 lower in positives
    age = rng.normal(60, 10, (n, 1)).astype(np.float32)
    return x, y, age


def _member(models: list) -> FeatureBundleMember:  # type: ignore[type-arg]
    m = FeatureBundleMember(name="f", feature_set=_Set(), lead_names=LEADS, fs=100.0,
                            tabular_names=["age"])
    m.models = [FeatureFoldModel(f"fold_{k}", mdl) for k, mdl in enumerate(models)]
    return m


def test_column_owner() -> None:
    assert column_owner("V1:min", LEADS, ["age"]) == "V1"
    assert column_owner("rate", LEADS, ["age"]) == "global"
    assert column_owner("age", LEADS, ["age"]) == "tabular"
    assert column_owner("V9:min", LEADS, ["age"]) == "global"  # not a lead of the cohort


@pytest.mark.parametrize("learner", ["logistic", "lightgbm"])
def test_contributions_sum_to_the_mean_log_odds_and_map_to_leads(learner: str) -> None:
    import lightgbm as lgb

    from ensembler.training.feature_member import learner_input

    x, y, age = _data(300, 0)
    member = _member([])
    feats = learner_input(member.features(x), age)
    models: list[Any] = []
    for k in range(2):
        rows = np.arange(k, 300, 2)
        if learner == "logistic":
            models.append(fit_logistic(feats, y[:, None], rows, 1.0, 200))
        else:
            models.append(BoosterModel([lgb.train(
                {"objective": "binary", "num_leaves": 4, "verbose": -1, "num_threads": 1,
                 "seed": k}, lgb.Dataset(feats[rows], y[rows]), 20)]))
    xt, _, at = _data(20, 1)
    ft = learner_input(_member([]).features(xt), at)
    singles = []
    for m in models:  # one fold model: its own output's log-odds, exactly
        fa1 = feature_attribution(_member([m]), xt, [at], 0)
        want = logit(np.clip(m.predict(ft)[:, 0].astype(np.float64), 1e-7, 1 - 1e-7)) \
            if learner == "logistic" else m.boosters[0].predict(ft, raw_score=True)
        np.testing.assert_allclose(fa1.values.sum(axis=1) + fa1.bias, want, atol=1e-4)
        singles.append(fa1.values)
    member = _member(models)
    fa = feature_attribution(member, xt, [at, at], 0)
    np.testing.assert_allclose(fa.values, np.mean(singles, axis=0), atol=1e-12)
    assert fa.owner == ["I", "I", "II", "II", "V1", "V1", "global", "tabular"]
    per = fa.per_lead()
    assert per.shape == (20, 3) and np.argmax(per.mean(axis=0)) == 2  # V1 carries the effect
    lf, gf, tf = fa.fractions()
    np.testing.assert_allclose(lf.sum(axis=1) + gf + tf, 1.0)
    assert set(fa.named("tabular", 0)) == {"age"} and set(fa.named("global", 0)) == {"rate"}
