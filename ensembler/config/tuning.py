"""Config of the per-architecture Optuna search."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ensembler.config.base import Section


class TuningConfig(Section):
    """Equal-budget Optuna search per model entry (``ensembler tune``).

    The budget is ``seconds`` of trial compute per entry when set, else ``trials``
    finished (complete or pruned) trials per entry.
    """

    enabled: bool = False  # run the per-architecture studies in `ensembler run`
    # archs: entries to tune, network entries or feature members (empty: every entry)
    archs: list[str] = Field(default_factory=list)
    trials: int | None = Field(10, ge=1)  # equal budget: trials per architecture ...
    seconds: float | None = Field(None, gt=0)  # ... or compute seconds per architecture (wins)
    storage: str | None = None  # Optuna RDB URL; None: SQLite file <run_dir>/hpo/optuna.db
    study_prefix: str = "tune"  # studies are named <prefix>-<entry>
    # objective_split: tuning split: one patient-grouped holdout or inner folds
    objective_split: Literal["holdout", "inner_folds"] = "holdout"
    # holdout_fraction: share of development patients scored in holdout mode
    holdout_fraction: float = Field(0.2, gt=0, lt=0.5)
    inner_folds: int = Field(3, ge=2)  # folds in inner_folds mode
    epochs: int | None = None  # per trial; None: training.epochs
    pruner: Literal["median", "hyperband", "none"] = "median"  # per-epoch pruning rule
    n_startup_trials: int = Field(3, ge=0)  # pruner: trials before pruning starts
    n_warmup_steps: int = Field(1, ge=0)  # pruner: epochs before a trial can be pruned
    tpe_startup_trials: int = Field(5, ge=1)  # sampler: random trials before TPE
    heartbeat_interval: int = Field(10, ge=1)  # seconds between trial heartbeats
    grace_period: int = Field(30, ge=1)  # seconds without heartbeat before a trial is failed
    max_retry: int = Field(2, ge=0)  # retries of a trial whose worker died
