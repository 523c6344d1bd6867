"""The layout of ``metrics.json`` as dataclasses: built by :mod:`ensembler.report.metrics`,
written with :meth:`Metrics.to_json_dict` and read back with :meth:`Metrics.from_json_dict`
by every reader (report tables and figures, the run summary, bundle export and card).

In memory a value that could not be computed is NaN; on disk it is ``null`` (read back as
None), hence ``float | None``. Tolerance: every class with an ``extra`` mapping (the
top-level :class:`Metrics`, each :class:`LeaderboardRow`, :class:`PrimaryComparison`,
:class:`Settings`, :class:`TestRead`) keeps keys it does not know and writes them back,
so a block added by a newer writer survives an older reader; the small value classes
(CIs, rates, latency) refuse unknown keys. A missing field without a default is an error
naming its path (:class:`ensembler.utils.jsonclass.SchemaError`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ensembler.report.attributions import AttributionsBlock
from ensembler.report.diversity import DiversityPanel
from ensembler.utils.jsonclass import SchemaError, from_json_dict, to_json_dict

__all__ = [
    "CI",
    "BestSingleCheck",
    "BootstrapDropped",
    "Calibration",
    "ClassOperatingPoint",
    "DelongRow",
    "DeltaCI",
    "DevEstimate",
    "DistillationRow",
    "EarlierRead",
    "EfficiencyPoint",
    "FeatureImportance",
    "FeatureRank",
    "HardTwin",
    "LatencyRow",
    "LeaderboardRow",
    "MacroPerClass",
    "Metrics",
    "OperatingPoints",
    "ParetoPoint",
    "ParetoRow",
    "PrimaryComparison",
    "RateCI",
    "SeedSpread",
    "Settings",
    "SubgroupRow",
    "Subgroups",
    "TestLedger",
    "TestRead",
    "TestReads",
    "read_metrics",
]

Num = float | None
Extra = dict[str, Any]


def _extra() -> Extra:
    return {}


@dataclass
class CI:
    """A point estimate with its 95 % percentile bootstrap interval."""

    point: Num
    lo: Num
    hi: Num


@dataclass
class RateCI:
    """A rate at a threshold with its CI; ``n_dropped`` resamples had no denominator."""

    point: Num
    lo: Num
    hi: Num
    n_dropped: int = 0


@dataclass
class DeltaCI:
    """A paired difference ``a - b`` on the same resamples, its CI and two-sided p."""

    delta: Num
    lo: Num
    hi: Num
    p_value: Num


@dataclass
class MacroPerClass:
    macro: Num
    per_class: dict[str, Num]


@dataclass
class Calibration:
    brier: MacroPerClass
    ece: MacroPerClass
    slope: dict[str, Num]
    intercept: dict[str, Num]


@dataclass
class LatencyRow:
    """Per-ECG latency at one batch size (ms)."""

    batch_size: int
    p50_ms: float
    p95_ms: float
    repeats: int


@dataclass
class SeedSpread:
    """Mean, SD (ddof 1), range and values of a per-seed quantity."""

    n_seeds: int
    mean: Num
    sd: Num
    min: Num
    max: Num
    values: list[Num]


@dataclass
class DevEstimate:
    """An honest development estimate shown beside an optimistic score (nested CV)."""

    label: str
    mean: Num
    sd: Num
    n_folds: int


@dataclass
class ClassOperatingPoint:
    threshold: Num
    n_pos: int
    n_neg: int
    sensitivity: RateCI
    specificity: RateCI
    ppv: RateCI
    npv: RateCI


@dataclass
class OperatingPoints:
    """Per-class test rates at the development thresholds, and their macro means."""

    per_class: list[ClassOperatingPoint]
    macro: dict[str, RateCI]


@dataclass
class DroppedAtOperatingPoint:
    macro: dict[str, int]
    per_class: dict[str, dict[str, int]]


@dataclass
class BootstrapDropped:
    """Resamples left out of each CI of one row."""

    n_bootstrap: int
    auc_macro: int
    auc_per_class: dict[str, int | None]
    operating_point: DroppedAtOperatingPoint | None


@dataclass
class LeaderboardRow:
    name: str
    kind: str
    members: list[str]
    n_members: int
    n_params: int | None
    latency_ms: dict[str, LatencyRow] | None
    test_auc: CI
    test_auc_per_class: dict[str, CI | None]
    test_ap: MacroPerClass
    calibration: Calibration
    seed_spread: SeedSpread | None
    notes: str
    dev_oof_auc: Num
    dev_oof_auc_label: str | None
    dev_estimate: DevEstimate | None
    threshold: dict[str, Num] | None
    operating_point: OperatingPoints | None
    bootstrap_dropped: BootstrapDropped
    delta_vs_baseline: DeltaCI | None = None
    extra: Extra = field(default_factory=_extra)

    def latency(self, batch: int) -> LatencyRow | None:
        return (self.latency_ms or {}).get(str(batch))


class ParetoRow(Protocol):
    """What the Pareto plot and its key read of a row: a :class:`LeaderboardRow`, or a
    :class:`ParetoPoint` read back from a results file that kept only these fields."""

    name: str
    test_auc: CI
    n_params: int | None

    def latency(self, batch: int) -> LatencyRow | None: ...


@dataclass
class ParetoPoint:
    """A leaderboard row reduced to its cost and accuracy (results files keep these)."""

    name: str
    test_auc: CI
    n_params: int | None = None
    latency_ms: dict[str, LatencyRow] | None = None
    extra: Extra = field(default_factory=_extra)

    def latency(self, batch: int) -> LatencyRow | None:
        return (self.latency_ms or {}).get(str(batch))


@dataclass
class DelongRow:
    """One class's DeLong test; a class without both labels has only ``skipped``."""

    class_: str = field(metadata={"key": "class"})
    auc_a: Num = None
    auc_b: Num = None
    z: Num = None
    p_value: Num = None
    p_holm: Num = None
    skipped: str | None = None

    def json_omit(self) -> set[str]:
        return ({"skipped"} if self.skipped is None
                else {"auc_a", "auc_b", "z", "p_value", "p_holm"})


@dataclass
class PrimaryComparison:
    a: str
    b: str
    metric: str
    statistic: str
    delta: Num
    lo: Num
    hi: Num
    p_value: Num
    secondary: str
    delong: list[DelongRow]
    seed_spread: SeedSpread | None
    extra: Extra = field(default_factory=_extra)


@dataclass
class BestSingleCheck:
    """Is the baseline the best single-architecture row by development OOF AUC?"""

    dev_oof_auc: Num
    best_fold_bag: str | None
    consistent: bool


@dataclass
class HardTwin:
    """A student's hard-label twin: its leaderboard row (None: none) and where it is from."""

    row: str | None
    source: str


@dataclass
class DistillationRow:
    name: str
    teacher: str
    delta_vs_stack: DeltaCI
    stack_gain: DeltaCI
    share_kept: CI | None
    latency_share: Num
    sentence: str
    hard_twin: HardTwin | None = None
    delta_vs_hard_twin: DeltaCI | None = None
    twin_sentence: str = ""
    absent: set[str] = field(default_factory=set, compare=False)  # see jsonclass


@dataclass
class SubgroupRow:
    value: str
    n: int
    n_patients: int
    n_pos: list[int]
    auc: Num
    lo: Num
    hi: Num
    small: bool
    classes_scored: int
    n_dropped: int = 0


@dataclass
class Subgroups:
    """``columns[column][model]``: one row per subgroup value."""

    models: list[str]
    columns: dict[str, dict[str, list[SubgroupRow]]]
    unavailable: list[str]


@dataclass
class TestRead:
    stage: str
    when: str
    what: str
    informed_choice: bool = False
    extra: Extra = field(default_factory=_extra)


@dataclass
class EarlierRead:
    """An earlier read of the same test set: a ledger entry or a declared read."""

    source: str  # "ledger" or "declared"
    when: str
    config: str
    what: str
    run_dir: str | None = None  # ledger entries only
    code: str | None = None  # ledger entries only: git commit or package version


@dataclass
class TestLedger:
    """Where this read stands among every recorded read of the same test set
    (:mod:`ensembler.report.ledger`)."""

    path: str | None  # the ledger file; None: disabled
    fingerprint: str  # of the sorted test record ids
    n_test: int
    evaluated: str  # digest of what this report evaluated (models, stacks)
    read_index: int  # this read's number among the reads of this test set (1: first)
    new_read: bool  # False: these models were read before (re-reported, not a new read)
    n_reads: int  # reads of this test set known now (ledger + declared)
    earlier: list[EarlierRead]
    sentence: str


@dataclass
class TestReads:
    count: int
    stages: list[TestRead]
    informed_a_choice: list[str]
    note: str
    #: reads of the same test set by other runs (None: no ledger was consulted, e.g. a
    #: metrics.json written before the ledger existed)
    ledger: TestLedger | None = None
    absent: set[str] = field(default_factory=set, compare=False)  # see jsonclass


@dataclass
class Settings:
    n_bootstrap: int
    bootstrap_unit: str
    resamples_without_both_labels: int
    seed: int
    alpha: float
    threshold_method: str
    target_sensitivity: Num
    ece_bins: int
    min_subgroup_n: int
    extra: Extra = field(default_factory=_extra)


@dataclass
class FeatureRank:
    """One feature of one class: its mean |contribution| and (LightGBM) gain."""

    feature: str
    mean_abs_contribution: float  # log-odds, mean over the rows
    contribution_share: float = 0.0  # of the class's summed mean |contribution| (0-1)
    gain: float | None = None  # total split gain, mean over the fold models
    gain_share: float | None = None  # of the class's total gain (0-1)


@dataclass
class FeatureImportance:
    """A feature member's top features per class (ranked by mean |contribution|)."""

    member: str
    learner: str  # "lightgbm" or "logistic"
    rows: str  # which rows the contributions are averaged over
    n_rows: int
    unit: str
    per_class: dict[str, list[FeatureRank]] = field(default_factory=dict)


@dataclass
class EfficiencyPoint:
    arch: str
    fraction: float
    test_auc: Num


@dataclass
class Metrics:
    """The whole of ``metrics.json``."""

    schema_version: int
    run: str
    class_names: list[str]
    classes_skipped_in_macro: list[str]
    n_test: int
    n_test_patients: int
    n_dev: int
    n_dev_patients: int
    test_prevalence: dict[str, Num]
    settings: Settings
    baseline: str
    best_single_check: BestSingleCheck
    distillation: list[DistillationRow]
    primary: PrimaryComparison | None
    leaderboard: list[LeaderboardRow]
    subgroups: Subgroups
    bootstrap_warnings: list[str]
    oracle_auc: Num
    stack_study: dict[str, Any] | None
    fairness_note: str | None
    data_efficiency: list[EfficiencyPoint] | None
    provenance: dict[str, str]
    test_set_reads: TestReads
    #: per feature member, its top features per class (ensembler.report.importance)
    feature_importance: list[FeatureImportance] = field(default_factory=list)
    #: the members' diversity panel (ensembler.pipeline.diversity), None when off
    diversity: DiversityPanel | None = None
    figures: list[str] = field(default_factory=list)
    #: the attribution section's numbers (ensembler.explain.section); left out when off
    attributions: AttributionsBlock | None = None
    extra: Extra = field(default_factory=_extra)
    #: defaulted fields a file (from an older version) lacked: left out again on writing
    absent: set[str] = field(default_factory=set, compare=False)

    def json_omit(self) -> set[str]:
        return {"attributions"} if self.attributions is None else set()

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON object (NaN as null, numpy values as Python values)."""
        return to_json_dict(self)

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any], where: str = "metrics.json") -> Metrics:
        """Read a parsed ``metrics.json``; errors name ``where`` and the field's path."""
        return from_json_dict(cls, data, where)

    def row(self, name: str | None) -> LeaderboardRow | None:
        """The leaderboard row called ``name`` (None when there is none)."""
        return next((r for r in self.leaderboard if r.name == name), None)

    @property
    def rows(self) -> dict[str, LeaderboardRow]:
        return {r.name: r for r in self.leaderboard}


def read_metrics(path: Path) -> Metrics:
    """Read a ``metrics.json`` file; a malformed one raises naming the file and field."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    return Metrics.from_json_dict(data, str(path))
