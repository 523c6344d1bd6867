"""Config of base members and of the out-of-fold trainer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from ensembler.config.base import PartialSection, Section, partial_of


class AugmentConfig(Section):
    amplitude_scale: float = Field(0.0, ge=0.0)  # x ~ U(1-s, 1+s) per record
    noise_std: float = Field(0.0, ge=0.0)  # Gaussian noise in mV


class TrainingConfig(Section):
    """Fold-trainer settings; a member may override any of them."""

    epochs: int = Field(10, ge=1)  # maximum epochs per fold model
    batch_size: int = Field(64, ge=1)  # records per optimisation step
    lr: float = Field(1e-3, gt=0)  # AdamW (peak) learning rate
    weight_decay: float = Field(1e-2, ge=0)  # AdamW weight decay
    schedule: Literal["onecycle", "cosine"] = "onecycle"  # learning-rate schedule over all steps
    pos_weight: bool = False  # BCE pos_weight = negatives/positives per class (fitted per fold)
    grad_clip: float | None = 1.0  # max gradient norm (None: no clipping)
    patience: int = Field(5, ge=1)  # early stopping on the inner validation split
    # inner_val_fraction: patients of the fold's training part used for early stopping
    inner_val_fraction: float = Field(0.15, gt=0, lt=0.5)
    crop_s: float | None = 2.5  # random crop length in training; None: full record
    eval_stride_s: float | None = None  # sliding-window stride at eval; None: crop_s / 2
    # eval_aggregate: how sliding-window probabilities are combined per record
    eval_aggregate: Literal["mean", "max"] = "mean"
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    dropout: float | None = Field(None, ge=0.0, lt=1.0)  # None: the architecture default
    refit_full: bool = False  # also train one model on all development data (median best epoch)
    # device: auto: CUDA when available (bf16 autocast), else CPU
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # precision: auto: bf16 autocast on CUDA and on CPUs reporting AVX512-BF16/AMX, else fp32
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    n_jobs: int = 1  # parallel (member, fold) jobs
    backend: Literal["loky", "dask", "sequential"] = "loky"  # joblib backend for the jobs
    scheduler_address: str | None = None  # dask.distributed scheduler; implies backend dask
    threads_per_job: int | None = None  # torch threads per job; None: cores // n_jobs


if TYPE_CHECKING:
    TrainingOverride = PartialSection
else:
    #: a member's overrides of ``training``: any TrainingConfig field, each optional
    TrainingOverride = partial_of(TrainingConfig, "TrainingOverride")


class ModelEntry(Section):
    """One base-model entry of the config; replicas make several named members."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")  # member name (files, meta-feature columns)
    arch: str  # registry name, or "module.path:callable" for a user architecture
    # params: architecture hyper-parameters, checked at load against the constructor
    params: dict[str, Any] = Field(default_factory=dict)
    # fusion: tabular fusion: none, early, intermediate or late
    fusion: Literal["none", "early", "intermediate", "late"] = "none"
    seeds: int = Field(1, ge=1)  # seed replicas
    bootstrap: int = Field(0, ge=0)  # bootstrap (bagging) replicas
    use_tuned: bool = True  # take the best params of the arch's study when it exists
    # training: this member's overrides of any training.* field (same types and limits)
    training: TrainingOverride = Field(default_factory=TrainingOverride)
    search_space: str | None = None  # "module:function" suggest(trial) for user archs

    def member_names(self) -> list[str]:
        """Names of the members this entry makes: itself, or one per seed/bootstrap replica."""
        if self.seeds == 1 and self.bootstrap == 0:
            return [self.name]
        return ([f"{self.name}-s{i}" for i in range(self.seeds)]
                + [f"{self.name}-b{i}" for i in range(self.bootstrap)])


class ExternalMember(Section):
    """Predictions produced elsewhere, registered as a member (same npz contract)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")  # member name (files, meta-feature columns)
    path: str  # .npz with oof, test, test_by_fold, dev_record_id, test_record_id
