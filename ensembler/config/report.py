"""Config of the comparison report and the operating point."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from ensembler.config.base import Section
from ensembler.config.data import BUILTIN_SUBGROUPS
from ensembler.member_modes import MemberMode


class ExplainSectionConfig(Section):
    """The report's attribution section; both rules are fixed here, before the test set is read."""

    enabled: bool = True  # attribution maps and per-lead importance in the report
    # per_class: ECGs drawn per class: first K test patients by id with the class positive
    # (each patient's first such ECG by record id); a rule, never hand-picked ECGs
    per_class: int = Field(2, ge=0, le=10)
    # sample: test ECGs (at most 200) of the per-lead importance, drawn with the run seed
    # from all test ECGs, whatever their labels
    sample: int = Field(200, ge=1, le=200)
    ig_steps: int = Field(16, ge=4, le=256)  # Integrated Gradients steps of the drawn maps


class DiversityConfig(Section):
    """The report's diversity panel (development OOF only: no test label is read)."""

    enabled: bool = True  # the diversity panel: correlations, drop-one, greedy path, weights
    drop_one: bool = True  # rerun the nested stacking study once without each member
    # drop_one_trials: trials per inner study of each drop-one rerun; null: stacking.trials
    drop_one_trials: int | None = Field(None, ge=1)


class DeclaredTestRead(Section):
    """A read of the test set the ledger did not record (before it existed, another machine)."""

    when: str = Field(min_length=1)  # when the test set was read (a date is enough)
    what: str = Field(min_length=1)  # what was read, e.g. "leaderboard + primary comparison"
    config: str = Field(min_length=1)  # the configuration (name, commit) that read it


class ReportConfig(Section):
    n_bootstrap: int = Field(1000, ge=100)  # patient-cluster bootstrap resamples
    # threshold: operating point rule on development OOF
    threshold: Literal["youden", "sensitivity"] = "youden"
    # target_sensitivity: sensitivity target when threshold is sensitivity
    target_sensitivity: float = Field(0.8, gt=0, lt=1)
    ece_bins: int = Field(10, ge=2)  # bins of the expected calibration error
    # subgroups: subgroup columns reported (default: every one the data source provides)
    subgroups: list[str] = Field(default_factory=lambda: list(BUILTIN_SUBGROUPS))
    min_subgroup_n: int = Field(30, ge=1)  # subgroups smaller than this are flagged
    latency_repeats: int = Field(20, ge=3)  # timed repeats per batch size
    top_features: int = Field(10, ge=1)  # feature members: top features per class reported
    # data_efficiency: network member names retrained on fractions of the development patients
    data_efficiency: list[str] = Field(default_factory=list)
    data_efficiency_fractions: list[float] = Field(  # fractions of development patients
        default_factory=lambda: [0.1, 0.25, 0.5, 1.0]
    )
    # explain: attribution section (maps of test ECGs chosen by a fixed rule, per-lead importance)
    explain: ExplainSectionConfig = Field(default_factory=ExplainSectionConfig)
    # diversity: why the stack helps or not (docs/sections/report.md#diversity-panel)
    diversity: DiversityConfig = Field(default_factory=DiversityConfig)
    # test_ledger: file counting test-set reads across runs; null: env or user default; none: off
    # (env: $ENSEMBLER_TEST_LEDGER; user default: $XDG_STATE_HOME/ensembler/test_reads.jsonl)
    test_ledger: str | None = None
    # declared_test_reads: earlier reads of this test set the ledger did not record (counted)
    # (made before the ledger existed or on another machine; each listed as "declared")
    declared_test_reads: list[DeclaredTestRead] = Field(default_factory=list)

    @field_validator("test_ledger")
    @classmethod
    def _ledger_file(cls, v: str | None) -> str | None:
        if v is not None and v.strip() and v.strip().lower() != "none" \
                and Path(v).expanduser().is_dir():
            raise ValueError(f"expected a file path (a JSON-lines file), got the folder {v!r}")
        return v


class ExportConfig(Section):
    enabled: bool = True  # export the bundle in `ensembler run`
    stack: str | None = None  # stack to ship (a name in the report); None: joint_stack
    # members: fold-average, refit-full, or auto (chosen on development data)
    members: Literal["auto", MemberMode] = "auto"
    # mode_evidence: members whose fold models are retrained on shares of their patients
    # (network or feature members): the development-only learning curve the member mode's
    # reason cites (`ensembler evidence`; docs/sections/bundle.md#member-modes-and-parity)
    mode_evidence: list[str] = Field(default_factory=list)
    # mode_evidence_fractions: shares (0-1, exclusive) of each fold's training patients
    # (nested subsets); 100 % is the member's own out-of-fold predictions
    mode_evidence_fractions: list[float] = Field(default_factory=lambda: [0.5, 0.75],
                                                 min_length=1)

    @field_validator("mode_evidence_fractions")
    @classmethod
    def _shares(cls, v: list[float]) -> list[float]:
        bad = [f for f in v if not 0 < f < 1]
        if bad:
            raise ValueError(f"expected shares between 0 and 1 (exclusive; 1 is the member's "
                             f"own out-of-fold predictions), got {bad}")
        return v
    onnx: bool = False  # also export members to ONNX (checked against torch)
    zip: bool = False  # also write bundle.zip
    # conformal_alpha: target error rate per class of the bundle's conformal prediction sets
    # (calibrated on the stack's meta-level OOF); null ships no sets
    conformal_alpha: float | None = Field(0.1, gt=0, lt=1)
    # conformal_margin: evaluate flags classes and subgroups with coverage below 1 - alpha - margin
    conformal_margin: float = Field(0.05, ge=0, lt=1)
    intended_use: str = (  # intended-use statement of the model card
        "Research use only: retrospective evaluation of ECG classifiers. "
        "Not a medical device; not for clinical decision making."
    )
