"""What the report builder takes: plain arrays and tables, already loaded by the caller."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ensembler.errors import PredictionsError, SplitError
from ensembler.evaluation import LatencyStats
from ensembler.evaluation._checks import as_labels, as_probabilities
from ensembler.report.diversity import DiversityPanel
from ensembler.report.schema import FeatureImportance, TestLedger

if TYPE_CHECKING:  # it imports the figures module, which imports this one
    from ensembler.report.mode_evidence import ModeEvidence

__all__ = ["KINDS", "ComparisonInput", "EntryKind", "LeaderboardEntry", "TwinRef"]

EntryKind = Literal["network", "feature_model", "external_model", "refit_full", "fold_bag",
                    "seed_bag", "best_single", "stack", "hard_twin", "distilled"]
#: Leaderboard order: from one model up to the stacks, so gains can be traced; then the
#: distilled students, each after its hard-label twin.
KINDS: tuple[str, ...] = ("network", "feature_model", "external_model", "refit_full",
                          "fold_bag", "seed_bag", "best_single", "stack", "hard_twin",
                          "distilled")


@dataclass
class LeaderboardEntry:
    """One leaderboard row: a single network, a bag, or a stack.

    Attributes
    ----------
    name : unique row name (``"best_single"``, ``"joint_stack"``, ``"resnet1d"``...).
    kind : ``"network"`` (one fold network), ``"feature_model"`` (one fold model of a
        feature member: feature set + learner; its latency includes the feature
        computation), ``"external_model"`` (one fold's predictions of an external member),
        ``"refit_full"`` (a member's single network trained once on all development data),
        ``"fold_bag"`` (the K fold models of one architecture, i.e. an OOF member),
        ``"seed_bag"``, ``"best_single"`` (the member chosen on development OOF),
        ``"stack"``, ``"distilled"`` (a student trained on a stack's meta-level OOF) or
        ``"hard_twin"`` (the student's network trained on hard labels only, for
        comparison). Only ``fold_bag`` rows are best-single candidates, and only members'
        OOF enters a stack.
    test_proba : (N_test, C) test probabilities (for a stack: the mean of the K
        fold-wise stacked outputs).
    dev_oof_proba : (N_dev, C) development out-of-fold probabilities (for a
        stack: its meta-level OOF), used for the threshold and the development
        AUC; ``None`` when the model has none (then no operating point).
    members : names of the base models inside (one name for a network/bag).
    n_params : trainable parameters of all members (the meta-learner's are negligible).
    latency_ms : ``{batch_size: LatencyStats}`` from
        :func:`ensembler.evaluation.measure_latency`, members plus meta-learner.
    seed_spread : test macro AUCs of the same recipe trained with other seeds.
    notes : free text shown under the leaderboard.
    dev_auc_label : what the development AUC is (e.g. ``"selected on (optimistic)"``,
        ``"fold bag's OOF"``); default: "selected on (optimistic)" for
        ``ComparisonInput.tuned_members``, else "out-of-fold".
    dev_estimate : an honest development estimate shown beside an optimistic one:
        ``{"label", "mean", "sd", "n_folds"}`` (the joint stack's nested CV).
    """

    name: str
    kind: EntryKind
    test_proba: NDArray[np.float64]
    dev_oof_proba: NDArray[np.float64] | None = None
    members: list[str] = field(default_factory=list)
    n_params: int | None = None
    latency_ms: Mapping[int, LatencyStats] | None = None
    seed_spread: Sequence[float] | None = None
    notes: str = ""
    dev_auc_label: str | None = None
    dev_estimate: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class TwinRef:
    """The hard-label twin of a ``distilled`` row: the row of the same network trained on
    hard labels only (None when there is none) and where it comes from (said in the report)."""

    row: str | None
    source: str


@dataclass
class ComparisonInput:
    """Everything :func:`ensembler.report.build_report` needs, as arrays and tables.

    Attributes
    ----------
    class_names : the C class names.
    y_test : (N_test, C) {0,1} test labels; groups_test : (N_test,) patient ids.
    y_dev : (N_dev, C) development labels in the row order of every
        ``dev_oof_proba``; groups_dev : (N_dev,) patient ids (checked disjoint
        from the test patients).
    entries : the leaderboard rows.
    subgroups_test : DataFrame with N_test rows (columns such as sex, age_band,
        paced); the configured ``report.subgroups`` columns are reported.
    primary : ``(a, b)``: the one comparison named in advance, ``a - b``;
        ``None`` for no primary comparison.
    baseline : the row every Δ is taken against.
    training_curves : ``{member: [curve.csv per fold]}``; CSV columns
        epoch, train_loss, val_loss, val_auc, lr, seconds.
    fairness : per-architecture tuning trials: columns arch, number, value,
        state, seconds; ``fairness_note`` states the budgets the studies recorded.
    fairness_summary : one row per model entry, tuned or not (columns arch, tuned,
        budget_kind, budget, complete, pruned, failed, best_auc, compute_seconds,
        budget_met); rendered as the fairness table.
    data_efficiency : columns arch, fraction, test_auc.
    mode_evidence : the member-mode evidence (development OOF AUC vs share of training
        patients); None leaves its figure out.
    tuned_members : rows whose development AUC was used to choose something
        (tuning, selection); labelled "selected on (optimistic)".
    oracle_auc : macro AUC of the generating risk (synthetic cohorts only).
    provenance : ``{choice: data it used}``, added to the defaults.
    stack_study : summary of the joint stacking study (inner best value,
        nested-CV estimate, Pareto front...), rendered as given.
    test_reads : stages other than this report that read the test labels, each
        ``{"stage", "what", "when"}`` (``when``: "before this report" or "after
        this report"); none of them may inform a choice.
    primary_seed_deltas : the primary Δ recomputed once per training seed of the
        members (configuration fixed), when members have seed replicas.
    distill_teacher : the teacher stack of the ``distilled`` rows (their Δ vs stack and
        share of its gain kept); None without students.
    feature_importance : per feature member, its top features per class over development
        out-of-fold rows (:class:`ensembler.report.importance.FeatureImportance`).
    distill_twins : ``{distilled row: TwinRef}``: each student's hard-label twin (Δ student
        − twin, paired bootstrap).
    attributions : the attribution section (drawn test ECGs, per-lead importance), an
        :class:`ensembler.explain.section.AttributionSection`; None leaves it out.
    diversity : the diversity panel (development OOF only), rendered as its own section
        with its one-line verdict under the leaderboard; None leaves both out.
    test_ledger : this read's place among every recorded read of the same test set
        (:func:`ensembler.report.ledger.record_read`); None: no ledger was consulted.
    """

    class_names: list[str]
    y_test: NDArray[Any]
    groups_test: NDArray[Any]
    y_dev: NDArray[Any]
    groups_dev: NDArray[Any]
    entries: list[LeaderboardEntry]
    subgroups_test: pd.DataFrame | None = None
    primary: tuple[str, str] | None = ("joint_stack", "best_single")
    baseline: str = "best_single"
    training_curves: Mapping[str, Sequence[str | Path]] = field(default_factory=dict)
    fairness: pd.DataFrame | None = None
    fairness_note: str = ""
    fairness_summary: pd.DataFrame | None = None
    data_efficiency: pd.DataFrame | None = None
    mode_evidence: ModeEvidence | None = None
    tuned_members: set[str] = field(default_factory=set)
    oracle_auc: float | None = None
    provenance: Mapping[str, str] = field(default_factory=dict)
    stack_study: Mapping[str, Any] | None = None
    run_name: str = "run"
    test_reads: Sequence[Mapping[str, str]] = ()
    primary_seed_deltas: Sequence[float] | None = None
    distill_teacher: str | None = None  # the stack the ``distilled`` rows were trained on
    feature_importance: Sequence[FeatureImportance] = ()
    distill_twins: Mapping[str, TwinRef] = field(default_factory=dict)
    attributions: Any = None  # AttributionSection (ensembler.explain.section) or None
    diversity: DiversityPanel | None = None
    test_ledger: TestLedger | None = None

    def validate(self) -> None:
        """Check shapes, names and patient separation; raise with what and where."""
        y, yd = self._check_labels_and_patients()
        self._check_entries(y.shape[0], yd.shape[0])
        self._check_tables(y.shape[0])

    def _check_labels_and_patients(self) -> tuple[np.ndarray, np.ndarray]:
        """(y_test, y_dev) as label arrays; one patient id per row, no patient on both sides."""
        y = as_labels(self.y_test, "y_test")
        yd = as_labels(self.y_dev, "y_dev")
        c = len(self.class_names)
        if y.shape[1] != c or yd.shape[1] != c:
            raise PredictionsError(
                f"y_test/y_dev: expected {c} columns (class_names), got {y.shape[1]}/{yd.shape[1]}"
            )
        for arr, rows, what in (
            (self.groups_test, y, "groups_test"),
            (self.groups_dev, yd, "groups_dev"),
        ):
            if np.asarray(arr).shape != (rows.shape[0],):
                raise PredictionsError(
                    f"{what}: expected ({rows.shape[0]},) patient ids, got {np.asarray(arr).shape}"
                )
        both = np.intersect1d(np.asarray(self.groups_test), np.asarray(self.groups_dev))
        if both.size:
            raise SplitError(
                f"{both.size} patient(s) appear in both development and test data, "
                f"e.g. {both[:3].tolist()}; the test set must hold unseen patients"
            )
        return y, yd

    def _check_entries(self, n_test: int, n_dev: int) -> None:
        """Unique names and known kinds; probabilities of the right shape; baseline present."""
        if not self.entries:
            raise PredictionsError("entries: the leaderboard needs at least one model")
        names = [e.name for e in self.entries]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise PredictionsError(f"entries: names must be unique; repeated: {dup}")
        c = len(self.class_names)
        for e in self.entries:
            if e.kind not in KINDS:
                raise PredictionsError(
                    f"entry {e.name!r}: kind must be one of {KINDS}, got {e.kind!r}"
                )
            as_probabilities(e.test_proba, n_test, c, f"entry {e.name!r}: test_proba")
            if e.dev_oof_proba is not None:
                as_probabilities(e.dev_oof_proba, n_dev, c, f"entry {e.name!r}: dev_oof_proba")
        wanted = [self.baseline, *(self.primary or ())]
        missing = [n for n in wanted if n not in names]
        if missing:
            raise PredictionsError(
                f"baseline/primary name(s) {missing} not among the entries {names}"
            )

    def _check_tables(self, n_test: int) -> None:
        """Subgroup rows, fairness/data-efficiency columns and training-curve files."""
        if self.subgroups_test is not None and len(self.subgroups_test) != n_test:
            raise PredictionsError(
                f"subgroups_test: expected {n_test} rows (one per test ECG), "
                f"got {len(self.subgroups_test)}"
            )
        for frame, cols, what in (
            (self.fairness, {"arch", "number", "value", "state", "seconds"}, "fairness"),
            (self.data_efficiency, {"arch", "fraction", "test_auc"}, "data_efficiency"),
        ):
            if frame is not None and not cols <= set(frame.columns):
                raise PredictionsError(
                    f"{what}: missing column(s) {sorted(cols - set(frame.columns))}; "
                    f"expected {sorted(cols)}"
                )
        for member, paths in self.training_curves.items():
            for p in paths:
                if not Path(p).is_file():
                    raise PredictionsError(f"training_curves[{member!r}]: file not found: {p}")
