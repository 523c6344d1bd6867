"""Config of the data layer: source, preprocessing, cache, split."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ensembler.config.base import Section

#: tabular and subgroup columns of the built-in sources, known without reading a record
#: (the data layer builds its tables with these names; a test checks both agree)
SYNTHETIC_TABULAR = ("age", "sex", "pacemaker")
PTBXL_TABULAR = ("age", "sex", "height", "weight", "pacemaker")
BUILTIN_SUBGROUPS = ("sex", "age_band", "paced")


class SyntheticEffects(Section):
    """Effect sizes of the planted condition, fixed before anything is trained.

    Each ``*_`` effect is the log-odds coefficient of the latent risk on one planted
    feature, per standard deviation of that feature (the irregular-rhythm flag is
    standardised too). With these defaults the oracle AUC (AUC of the latent risk
    itself against the noisy labels) is about 0.85 for the binary task, while any
    single feature alone reaches only about 0.59-0.63, so no scale dominates:
    local morphology (2 features), global timing (2), cross-lead (1), tabular (2).
    Fixed before any model was trained; do not tune against results.
    """

    low_qrs_voltage: float = 1.0  # local morphology: QRS amplitude x exp(-0.15 z)
    q_waves_v1_v3: float = 1.0  # local morphology: Q depth in V1-V3 = 0.08 mV x exp(0.5 z)
    qt_prolongation: float = 1.0  # global timing: QT x exp(0.05 z) (SD ~20 ms)
    irregular_rhythm: float = 1.0  # global timing: irregular RR, no P waves (flag)
    irregular_fraction: float = Field(0.12, gt=0.0, lt=1.0)  # share of irregular ECGs
    axis_deviation: float = 1.0  # cross-lead: frontal QRS axis = 50 - 25 z degrees
    age_prior: float = 1.0  # tabular: per SD of age (15 years)
    sex_prior: float = 0.5  # tabular: males (+1) vs females (-1)
    within_patient_corr: float = Field(0.9, ge=0.0, le=1.0)  # feature corr. across a patient's ECGs
    label_noise: float = Field(0.05, ge=0.0, lt=0.5)  # fraction of labels flipped
    prevalence: float = Field(0.3, gt=0.0, lt=1.0)  # share of positive patients before label noise


class SyntheticConfig(Section):
    """The built-in synthetic cohort (``ensembler synth``)."""

    n_patients: int = Field(300, ge=4)  # development patients of the synthetic cohort
    ecgs_per_patient: tuple[int, int] = (1, 5)  # inclusive range per patient
    n_test_patients: int = Field(0, ge=0)  # extra held-out patients (0: none)
    fs: float = 100.0  # sampling rate in Hz
    duration_s: float = 10.0  # record length in seconds (crop/pad)
    task: Literal["binary", "multilabel"] = "binary"  # task definition
    n_conditions: int = Field(3, ge=1, le=5)  # multilabel only
    paced_fraction: float = Field(0.05, ge=0.0, le=1.0)  # share of paced patients (a subgroup)
    effects: SyntheticEffects = Field(default_factory=SyntheticEffects)
    seed: int | None = None  # None: the run seed


class ManifestConfig(Section):
    """A generic WFDB folder plus a CSV manifest."""

    path: str  # CSV file
    record_dir: str | None = None  # folder records are relative to (default: CSV's folder)
    record_column: str = "record"  # column with the record path relative to record_dir
    patient_column: str = "patient_id"  # column with the patient id (grouping unit)
    label_columns: list[str] = Field(min_length=1)  # 0/1 label columns, one per class
    # tabular_columns: numeric columns offered to models (age, sex ...)
    tabular_columns: list[str] = Field(default_factory=list)
    subgroup_columns: list[str] = Field(default_factory=list)  # columns reported as subgroups
    fold_column: str | None = None  # per record: 'test'/-1 test, blank dev, int >= 0 dev fold


class PTBXLConfig(Section):
    """PTB-XL in its release layout."""

    path: str | None = None  # default: $ENSEMBLER_PTBXL_DIR
    task: Literal[  # task definition
        "superdiagnostic", "diagnostic", "subdiagnostic", "form", "rhythm", "all", "binary"
    ] = "superdiagnostic"
    binary_label: str | None = None  # e.g. "MI" when task == "binary"
    use_strat_fold: bool = True  # strat_fold as predefined folds (test: 10, or 9 if 10 absent)
    records: Literal["auto", "records100", "records500"] = "auto"  # auto: 500 if fs > 100
    min_count: int = 0  # drop classes with fewer positives


class PreprocessingConfig(Section):
    """How every record is turned into a fixed (leads, samples) float array."""

    fs: float = Field(100.0, gt=0)  # sampling rate in Hz
    duration_s: float = Field(10.0, gt=0)  # record length in seconds (crop/pad)
    leads: list[str] | None = None  # None: the 12 standard leads
    bandpass: tuple[float, float] | None = None  # Hz, e.g. (0.5, 40)
    # dtype: cache precision (float16 halves disk and RAM; tolerance in docs/sections/data.md)
    dtype: Literal["float32", "float16"] = "float32"
    source_fs: float | None = None  # declared rate of the source; mismatch is an error
    # on_bad_record: error: stop naming the record; skip: list it in skipped.csv
    on_bad_record: Literal["error", "skip"] = "error"
    n_jobs: int = 1  # parallel readers when building the cache

    @model_validator(mode="after")
    def _bandpass_below_nyquist(self) -> PreprocessingConfig:
        if self.bandpass is not None:
            low, high = self.bandpass
            if not 0 < low < high < self.fs / 2:
                raise ValueError(f"bandpass {self.bandpass} must satisfy 0 < low < high < "
                                 f"fs/2 = {self.fs / 2:g}")
        return self


class DataConfig(Section):
    # source: synthetic (built-in), wfdb (folder + CSV manifest) or ptbxl
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

    def source_tabular(self) -> list[str]:
        """Tabular columns the configured source provides (before ``data.tabular``)."""
        if self.source == "wfdb":
            return list(self.manifest.tabular_columns) if self.manifest else []
        return list(SYNTHETIC_TABULAR if self.source == "synthetic" else PTBXL_TABULAR)

    def source_subgroups(self) -> list[str]:
        """Subgroup columns the configured source provides."""
        if self.source == "wfdb":
            return list(self.manifest.subgroup_columns) if self.manifest else []
        return list(BUILTIN_SUBGROUPS)


class SplitConfig(Section):
    n_folds: int = Field(5, ge=2)  # K patient-grouped development folds
    # test: fraction of patients, predefined folds, or no test set
    test: Literal["fraction", "predefined", "none"] = "fraction"
    # test_fraction: share of patients held out when test is fraction
    test_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    # with test "predefined": dev folds follow the predefined folds (K = their number)
    # or are recomputed as n_folds patient-grouped stratified folds
    dev_folds: Literal["grouped", "predefined"] = "grouped"  # recompute K folds or keep predefined
    # duplicate_check: near-duplicate recordings across patients: warn, refuse or off
    duplicate_check: Literal["warn", "refuse", "off"] = "warn"
    duplicate_corr: float = Field(0.99, gt=0.0, le=1.0)  # near-duplicate correlation threshold
