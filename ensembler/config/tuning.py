"""Config of the per-architecture Optuna search."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ensembler.config.base import Section


class TuningConfig(Section):
    enabled: bool = False
    archs: list[str] = Field(default_factory=list)  # model entry names to tune
    trials: int | None = Field(10, ge=1)  # equal budget: trials per architecture ...
    seconds: float | None = None  # ... or compute seconds per architecture
    storage: str | None = None  # Optuna URL; None: journal file under the run dir
    study_prefix: str = "tune"
    objective_split: Literal["holdout", "inner_folds"] = "holdout"
    holdout_fraction: float = Field(0.2, gt=0, lt=0.5)
    inner_folds: int = Field(3, ge=2)
    epochs: int | None = None  # per trial; None: training.epochs
    pruner: Literal["median", "hyperband", "none"] = "median"
    n_startup_trials: int = Field(3, ge=0)
    n_warmup_steps: int = Field(1, ge=0)
    heartbeat_interval: int = Field(10, ge=1)
    grace_period: int = Field(30, ge=1)
    max_retry: int = Field(2, ge=0)
