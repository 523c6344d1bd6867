"""Fixtures of the tuning tests: a tiny in-memory cohort/split and a tiny tuning config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna
import pytest
from toydata import ToySplit, make_cohort, make_split

from ensembler.config import RunConfig
from ensembler.data.cohort import Cohort

optuna.logging.set_verbosity(optuna.logging.WARNING)


def tune_config(**tuning: Any) -> RunConfig:
    """Two-epoch cnn1d member, 3 trials, holdout objective (edit fields in the test)."""
    base: dict[str, Any] = {"trials": 3, "holdout_fraction": 0.25, "n_startup_trials": 1,
                            "n_warmup_steps": 0, "tpe_startup_trials": 2}
    base.update(tuning)
    return RunConfig.model_validate({
        "name": "toy-tune", "seed": 11,
        "training": {"epochs": 2, "batch_size": 16, "crop_s": 1.0, "patience": 2,
                     "inner_val_fraction": 0.25, "n_jobs": 1, "backend": "sequential"},
        "models": [{"name": "cnn", "arch": "cnn1d"}],
        "tuning": base,
    })


@pytest.fixture
def make_cfg() -> Callable[..., RunConfig]:
    """``make_cfg(**tuning)``: the tiny tuning config with tuning fields overridden."""
    return tune_config


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return make_cohort(n_patients=40)


@pytest.fixture(scope="module")
def split(cohort: Cohort) -> ToySplit:
    return make_split(cohort, k=3, test_patients=8)
