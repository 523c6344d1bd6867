"""Config of the data layer: source, preprocessing, cache, split."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ensembler.config.base import Section


class SyntheticEffects(Section):
    """Effect sizes of the planted condition, fixed before anything is trained.

    Each effect is a coefficient on the latent risk (in standard-deviation units of
    the feature it perturbs); each is weak on its own.
    """

    low_qrs_voltage: float = 0.5  # local morphology: QRS amplitude scaled down
    q_waves_v1_v3: float = 0.5  # local morphology: pseudo-infarct Q waves V1-V3
    qt_prolongation: float = 0.5  # global timing: QTc lengthening
    irregular_rhythm: float = 0.5  # global timing: fraction with irregular RR
    axis_deviation: float = 0.5  # cross-lead: frontal QRS axis shifted left
    age_prior: float = 0.5  # tabular: risk rises with age
    sex_prior: float = 0.25  # tabular: risk higher in males
    label_noise: float = 0.05  # fraction of labels flipped
    prevalence: float = 0.3


class SyntheticConfig(Section):
    """The built-in synthetic cohort (``ensembler synth``)."""

    n_patients: int = Field(300, ge=4)
    ecgs_per_patient: tuple[int, int] = (1, 5)  # inclusive range per patient
    n_test_patients: int = Field(0, ge=0)  # extra held-out patients (0: none)
    fs: float = 100.0
    duration_s: float = 10.0
    task: Literal["binary", "multilabel"] = "binary"
    n_conditions: int = Field(3, ge=1, le=5)  # multilabel only
    paced_fraction: float = Field(0.05, ge=0.0, le=1.0)
    effects: SyntheticEffects = Field(default_factory=SyntheticEffects)
    seed: int | None = None  # None: the run seed


class ManifestConfig(Section):
    """A generic WFDB folder plus a CSV manifest."""

    path: str  # CSV file
    record_dir: str | None = None  # folder records are relative to (default: CSV's folder)
    record_column: str = "record"
    patient_column: str = "patient_id"
    label_columns: list[str] = Field(min_length=1)
    tabular_columns: list[str] = Field(default_factory=list)
    subgroup_columns: list[str] = Field(default_factory=list)
    fold_column: str | None = None


class PTBXLConfig(Section):
    """PTB-XL in its release layout."""

    path: str | None = None  # default: $ENSEMBLER_PTBXL_DIR
    task: Literal[
        "superdiagnostic", "diagnostic", "subdiagnostic", "form", "rhythm", "all", "binary"
    ] = "superdiagnostic"
    binary_label: str | None = None  # e.g. "MI" when task == "binary"
    use_strat_fold: bool = True
    min_count: int = 0  # drop classes with fewer positives


class PreprocessingConfig(Section):
    """How every record is turned into a fixed (leads, samples) float array."""

    fs: float = Field(100.0, gt=0)
    duration_s: float = Field(10.0, gt=0)
    leads: list[str] | None = None  # None: the 12 standard leads
    bandpass: tuple[float, float] | None = None  # Hz, e.g. (0.5, 40)
    dtype: Literal["float32", "float16"] = "float32"
    source_fs: float | None = None  # declared rate of the source; mismatch is an error
    on_bad_record: Literal["error", "skip"] = "error"
    n_jobs: int = 1


class DataConfig(Section):
    source: Literal["synthetic", "wfdb", "ptbxl"] = "synthetic"
    synthetic: SyntheticConfig = Field(default_factory=SyntheticConfig)
    manifest: ManifestConfig | None = None
    ptbxl: PTBXLConfig = Field(default_factory=PTBXLConfig)
    preprocessing: PreprocessingConfig = Field(default_factory=PreprocessingConfig)
    tabular: list[str] | None = None  # which tabular columns models may use (None: all)

    @model_validator(mode="after")
    def _source_has_its_section(self) -> DataConfig:
        if self.source == "wfdb" and self.manifest is None:
            raise ValueError("source 'wfdb' needs a 'manifest' section")
        return self


class SplitConfig(Section):
    n_folds: int = Field(5, ge=2)
    test: Literal["fraction", "predefined", "none"] = "fraction"
    test_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    duplicate_check: Literal["warn", "refuse", "off"] = "warn"
