"""Config of feature-based members: a named ECG feature set + a tabular learner per fold."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ensembler.config.base import Section


class LightGBMParams(Section):
    """The learner of a feature member: one LightGBM booster per class, early-stopped."""

    learning_rate: float = Field(0.05, gt=0, le=1)  # shrinkage per boosting round
    num_leaves: int = Field(15, ge=2)  # leaves per tree
    min_child_samples: int = Field(20, ge=1)  # minimum records in a leaf
    feature_fraction: float = Field(0.5, gt=0, le=1)  # share of columns sampled per tree
    reg_lambda: float = Field(1.0, ge=0)  # L2 regularisation of leaf values
    max_rounds: int = Field(1000, ge=1)  # boosting rounds at most (early stopping ends sooner)
    early_stopping: int = Field(50, ge=1)  # rounds without inner-validation gain before stopping


class LogisticParams(Section):
    """The ``logistic`` learner: median imputation + standardisation (fitted on each fold's
    training part) and one L2-penalised logistic regression per class."""

    C: float = Field(1.0, gt=0)  # inverse L2 strength (scikit-learn's C; tunable 1e-3..1e2)
    max_iter: int = Field(2000, ge=10)  # lbfgs iterations at most


class FeatureMemberEntry(Section):
    """A member that sees the ECG as measured features (intervals, axes, amplitudes, HRV...)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")  # member name (files, meta-feature columns)
    # feature_set: registered name (docs/sections/features.md) or "module.path:callable"
    feature_set: str = "ecg_clinical"
    feature_params: dict[str, Any] = Field(default_factory=dict)  # feature-set parameters
    # learner: per fold: lightgbm (a booster per class) or logistic (imputed, standardised)
    learner: Literal["lightgbm", "logistic"] = "lightgbm"
    lightgbm: LightGBMParams = Field(default_factory=LightGBMParams)  # lightgbm settings
    logistic: LogisticParams = Field(default_factory=LogisticParams)  # logistic settings
    # use_tuned: use the member's Optuna study's best learner settings (config-set ones win)
    use_tuned: bool = True
    tabular: bool = True  # also give the learner the cohort's tabular columns (data.tabular)
    n_jobs: int = Field(1, ge=1)  # processes computing the features (cached per cohort)
