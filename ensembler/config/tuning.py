"""Config of the per-architecture Optuna search."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ensembler.config.base import Section


class ScheduleConfig(Section):
    """The schedule step: each network entry's epochs E against round(factor x E) epochs.

    Both are trained on the tuning split (after the entry's study, or alone when
    ``tuning.search`` leaves it out) and scored on its held-out patients; the longer schedule
    is adopted only when the lower bound of the paired patient-bootstrap 95 % CI of its
    macro-AUC gain is above 0, then the step repeats from there (``max_rounds`` at most).
    """

    enabled: bool = False  # run the schedule step for every tuned network entry
    # factor: the longer schedule has round(factor x E) epochs (half up, at least E + 1)
    factor: float = Field(1.5, gt=1.0)
    # max_rounds: most extensions tried (E -> 1.5E -> 2.25E ... with factor 1.5)
    max_rounds: int = Field(2, ge=1)
    # n_bootstrap: paired patient-bootstrap resamples of the AUC gain (95 % CI)
    n_bootstrap: int = Field(1000, ge=100)


class TuningConfig(Section):
    """Equal-budget Optuna search per model entry (``ensembler tune``), then the optional
    schedule step.

    The budget is ``seconds`` of trial compute per entry when set, else ``trials``
    finished (complete or pruned) trials per entry.
    """

    enabled: bool = False  # run the tuning stage (search and/or schedule) in `ensembler run`
    # search: Optuna trials for every entry (true), none (false), or only the listed entries
    search: bool | list[str] = True
    # schedule: the schedule step (epochs chosen on the tuning split; see ScheduleConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    # archs: entries to tune, network entries or feature members (empty: every entry)
    archs: list[str] = Field(default_factory=list)
    # search_only: only these parameters ([lr, dim]) or per entry ({s4d: [lr]}); []: all
    search_only: list[str] | dict[str, list[str]] = Field(default_factory=list)
    trials: int | None = Field(10, ge=1)  # equal budget: trials per architecture ...
    seconds: float | None = Field(None, gt=0)  # ... or compute seconds per architecture (wins)
    storage: str | None = None  # Optuna RDB URL; None: SQLite file <run_dir>/hpo/optuna.db
    study_prefix: str = "tune"  # studies are named <prefix>-<entry>
    # objective_split: tuning split: one patient-grouped holdout or inner folds
    objective_split: Literal["holdout", "inner_folds"] = "holdout"
    # holdout_fraction: share of development patients scored in holdout mode
    holdout_fraction: float = Field(0.2, gt=0, lt=0.5)
    inner_folds: int = Field(3, ge=2)  # folds in inner_folds mode
    epochs: int | None = None  # per trial; None: the entry's training.epochs
    pruner: Literal["median", "hyperband", "none"] = "median"  # per-epoch pruning rule
    n_startup_trials: int = Field(3, ge=0)  # pruner: trials before pruning starts
    n_warmup_steps: int = Field(1, ge=0)  # pruner: epochs before a trial can be pruned
    tpe_startup_trials: int = Field(5, ge=1)  # sampler: random trials before TPE
    heartbeat_interval: int = Field(10, ge=1)  # seconds between trial heartbeats
    grace_period: int = Field(30, ge=1)  # seconds without heartbeat before a trial is failed
    max_retry: int = Field(2, ge=0)  # retries of a trial whose worker died

    def searches(self, name: str) -> bool:
        """Whether entry ``name`` gets an Optuna study: the one reading of ``search``
        (true: every tuned entry; false or []: none; a list: the entries it names)."""
        return self.search if isinstance(self.search, bool) else name in self.search

    def search_only_for(self, name: str) -> list[str]:
        """The parameters entry ``name``'s study samples ([]: its whole space): the
        ``search_only`` list, or the entry's own list when it is a mapping."""
        only = self.search_only
        return list(only.get(name, [])) if isinstance(only, dict) else list(only)

    @property
    def searches_any(self) -> bool:
        """Whether any entry gets a study (``search`` true or a non-empty list)."""
        return bool(self.search)

    @model_validator(mode="after")
    def _something_to_do(self) -> TuningConfig:
        if self.enabled and not self.searches_any and not self.schedule.enabled:
            raise ValueError("enabled with search: false (or []) and schedule.enabled: false has "
                             "nothing to run; turn one on or set enabled: false")
        return self
