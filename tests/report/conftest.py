"""A small synthetic comparison: three classes, several ECGs per patient, every optional part."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ensembler.evaluation import LatencyStats
from ensembler.report import ComparisonInput, LeaderboardEntry

CLASSES = ["NORM", "MI", "STTC"]


def _proba(y: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    z = strength * (y - 0.5) + rng.normal(size=y.shape)
    return 1.0 / (1.0 + np.exp(-z))


def _lat(ms: float) -> dict[int, LatencyStats]:
    return {1: LatencyStats(1, ms, 1.3 * ms, 5), 64: LatencyStats(64, ms / 10, ms / 8, 5)}


def make_input(tmp: Path, seed: int = 0) -> ComparisonInput:
    rng = np.random.default_rng(seed)
    n_test_pat, n_dev_pat = 90, 120
    g_test = np.repeat(np.arange(n_test_pat), 2)  # two ECGs per patient
    g_dev = np.repeat(np.arange(1000, 1000 + n_dev_pat), 2)
    y_test = (rng.random((g_test.size, 3)) < [0.45, 0.25, 0.3]).astype(np.uint8)
    y_dev = (rng.random((g_dev.size, 3)) < [0.45, 0.25, 0.3]).astype(np.uint8)

    def entry(name, kind, strength, members, params, ms, **kw):
        return LeaderboardEntry(
            name=name,
            kind=kind,
            test_proba=_proba(y_test, strength, rng),
            dev_oof_proba=_proba(y_dev, strength, rng),
            members=members,
            n_params=params,
            latency_ms=_lat(ms),
            **kw,
        )

    entries = [
        entry("resnet_fold1", "network", 1.6, ["resnet"], 500_000, 2.0),
        entry("resnet", "fold_bag", 2.0, ["resnet"], 2_500_000, 10.0),
        entry("inception", "fold_bag", 1.8, ["inception"], 4_000_000, 14.0),
        entry("best_single", "best_single", 2.0, ["resnet"], 2_500_000, 10.0),
        entry("mean", "stack", 2.2, ["resnet", "inception"], 6_500_000, 24.0),
        entry(
            "joint_stack",
            "stack",
            2.5,
            ["resnet", "inception"],
            6_500_000,
            25.0,
            seed_spread=[0.80, 0.82, 0.81],
            notes="LightGBM meta-learner",
        ),
    ]
    entries[3].dev_oof_proba = entries[1].dev_oof_proba.copy()  # best single = the resnet bag
    curves: dict[str, list[Path]] = {}
    for member in ("resnet", "inception"):
        paths = []
        for k in range(2):
            ep = np.arange(1, 6)
            frame = pd.DataFrame(
                {
                    "epoch": ep,
                    "train_loss": 0.7 / ep,
                    "val_loss": 0.75 / ep + 0.02,
                    "val_auc": 0.6 + 0.05 * ep,
                    "lr": 1e-3,
                    "seconds": 3.0,
                }
            )
            path = tmp / f"curves/{member}/fold_{k}/curve.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_csv(path, index=False)
            paths.append(path)
        curves[member] = paths
    fairness = pd.DataFrame(
        {
            "arch": ["resnet"] * 4 + ["inception"] * 4,
            "number": [0, 1, 2, 3] * 2,
            "value": [0.7, 0.75, 0.72, 0.8, 0.68, 0.71, 0.79, 0.77],
            "state": ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE"] * 2,
            "seconds": [10.0, 12.0, 3.0, 11.0, 20.0, 18.0, 22.0, 19.0],
        }
    )
    eff = pd.DataFrame(
        {
            "arch": ["resnet"] * 4,
            "fraction": [0.1, 0.25, 0.5, 1.0],
            "test_auc": [0.7, 0.76, 0.8, 0.83],
        }
    )
    sex = np.where(rng.random(n_test_pat) < 0.5, "F", "M")[np.repeat(np.arange(n_test_pat), 2)]
    age = np.array(["<40", "40-65", ">65"])[rng.integers(0, 3, n_test_pat)][g_test]
    age[:4] = "18-20"  # a deliberately tiny subgroup
    return ComparisonInput(
        class_names=CLASSES,
        y_test=y_test,
        groups_test=g_test,
        y_dev=y_dev,
        groups_dev=g_dev,
        entries=entries,
        subgroups_test=pd.DataFrame({"sex": sex, "age_band": age}),
        training_curves=curves,
        fairness=fairness,
        fairness_note="Each architecture had 4 trials and 60 s.",
        data_efficiency=eff,
        tuned_members={"joint_stack"},
        oracle_auc=0.9,
        provenance={"stack member subset": "joint Optuna study on development OOF"},
        stack_study={"inner_best": 0.84, "nested_cv_estimate": 0.82},
        run_name="synthetic-test",
    )


@pytest.fixture
def comparison(tmp_path: Path) -> ComparisonInput:
    return make_input(tmp_path)
