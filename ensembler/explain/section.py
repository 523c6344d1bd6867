"""The report's attribution section, computed from a finished run's test set.

Two fixed rules, both set in the config (``report.explain``) before the test set is
read, never a choice of telling examples:

- *drawn ECGs*: per class, the first ``per_class`` test patients by patient id (numeric
  order when every id is a number) with a positive label for the class, each patient's
  first such ECG by record id. Integrated Gradients (``ig_steps``) for the stack (its
  members' maps apportioned to their shares) and for the best single model.
- *per-lead importance*: ``sample`` test ECGs (at most 200) drawn at random with the run
  seed from all test ECGs, whatever their labels; gradient x input for every network
  member, pred_contrib for every feature member, and the stack's apportionment; mean
  over the sample per class.

Members are the run's own fold models (:func:`load_run_members`), the stack's inputs
are the members' stored test predictions per level-0 set, so the probabilities here
are the report's own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ensembler.config import RunConfig
from ensembler.data.cohort import Cohort
from ensembler.explain.core import Attributions, Member, attribute
from ensembler.explain.run_members import load_run_members
from ensembler.report.attributions import (
    AttributionsBlock,
    ClassLeads,
    DrawnRecord,
    OutsideLeads,
)
from ensembler.training.predictions import MemberPredictions
from ensembler.utils.seeds import derive_seed
from stacking.model import FittedStack

__all__ = ["AttributionSection", "ClassSummary", "DrawnECG", "SectionInputs", "class_summary",
           "drawn_rows", "explain_section", "sample_rows"]


@dataclass
class DrawnECG:
    """One drawn test ECG: the stack's and the best single model's maps for one class."""

    record: str
    patient: str
    class_name: str
    signal: np.ndarray  # (leads, T) preprocessed, mV
    stack_probability: float
    best_probability: float
    stack_map: np.ndarray  # (leads, T) network members' maps rescaled to their shares
    stack_lead: list[float]  # apportioned |share| per lead (feature members included)
    best_map: np.ndarray | None  # (leads, T) when the best single model is a network
    best_lead: list[float]  # network: mean |IG| per lead; feature member: signed pred_contrib


@dataclass
class ClassSummary:
    """Mean per-lead importance over the sample for one class."""

    class_name: str
    rows: dict[str, list[float]]  # "stack" and each member -> per lead
    outside: dict[str, dict[str, float]]  # "stack" / feature members -> global, tabular


@dataclass
class AttributionSection:
    lead_names: list[str]
    stack: str
    best_single: str  # the member the best single model is
    drawn_rule: str
    sample_rule: str
    sample_records: list[str]
    drawn: dict[str, list[DrawnECG]]
    summaries: list[ClassSummary]
    skipped: dict[str, str] = field(default_factory=dict)
    ig_steps: int = 16
    seconds: float = 0.0
    unavailable: str = ""  # why there are no attributions (empty: there are)

    def to_block(self) -> AttributionsBlock:
        """The numbers (no maps) for metrics.json ``attributions``."""
        if self.unavailable:
            return AttributionsBlock(unavailable=self.unavailable)
        return AttributionsBlock(
            stack=self.stack, best_single=self.best_single, lead_names=self.lead_names,
            drawn_rule=self.drawn_rule, sample_rule=self.sample_rule,
            n_sample=len(self.sample_records), sample_records=self.sample_records,
            drawn={c: [DrawnRecord(d.record, d.patient, d.stack_probability,
                                   d.best_probability, d.stack_lead, d.best_lead)
                       for d in ds] for c, ds in self.drawn.items()},
            per_lead={s.class_name: ClassLeads(s.rows, {
                k: OutsideLeads(v["global"], v["tabular"]) for k, v in s.outside.items()})
                for s in self.summaries},
            methods={"drawn": f"Integrated Gradients ({self.ig_steps} steps)",
                     "summary": "gradient x input (networks), exact contributions (feature "
                                "members: LightGBM pred_contrib, logistic coefficients)"},
            skipped_members=self.skipped, seconds=round(self.seconds, 2))


def _id_key(v: str) -> tuple[int, float, str]:
    """Numeric ids in numeric order (9 before 10), then any other id as text."""
    try:
        x = float(v)
    except ValueError:
        return (1, 0.0, v)
    return (0, x, "") if np.isfinite(x) else (1, 0.0, v)


def drawn_rows(labels: np.ndarray, patient: np.ndarray, record: np.ndarray, cls: int,
               k: int) -> list[int]:
    """Positions of the first ``k`` patients by id with a positive label for ``cls``
    (each patient's first such record by id)."""
    pos = np.flatnonzero(np.asarray(labels)[:, cls] == 1)
    first: dict[str, int] = {}
    for i in sorted(pos, key=lambda i: str(record[i])):
        first.setdefault(str(patient[i]), int(i))
    return [first[p] for p in sorted(first, key=_id_key)[:k]]


def sample_rows(n_test: int, n: int, seed: int) -> np.ndarray:
    """Sorted positions of ``min(n, n_test)`` test ECGs drawn with the run seed."""
    rng = np.random.default_rng(derive_seed(seed, "report", "explain-sample"))
    return np.sort(rng.choice(n_test, size=min(n, n_test), replace=False))


@dataclass
class SectionInputs:
    """Everything :func:`attribute` needs for the test rows ``pos`` (test-prediction order)."""

    members: list[Member]
    preds: Mapping[str, MemberPredictions]
    cohort: Cohort
    test_rows: np.ndarray  # cohort rows in test-prediction order
    features: dict[str, np.ndarray]  # feature member -> (N_cohort, F) cached features

    @classmethod
    def from_run(cls, run_dir: Path, cohort: Cohort, preds: Mapping[str, MemberPredictions]
                 ) -> tuple[SectionInputs, dict[str, str]]:
        """Every member of ``preds`` rebuilt from ``run_dir``, and why others were not."""
        first = next(iter(preds.values()))
        index = {r: i for i, r in enumerate(cohort.record_id.astype(str))}
        test_rows = np.array([index[str(r)] for r in first.test_record_id], dtype=np.int64)
        members, skipped = load_run_members(
            run_dir, list(preds), cohort.lead_names, cohort.fs, int(cohort.signals.shape[-1]),
            len(cohort.class_names))
        return cls(members, preds, cohort, test_rows,
                   _cached_features(members, cohort, run_dir)), skipped

    def cols(self, rows: np.ndarray, names: Sequence[str]) -> np.ndarray | None:
        if not names:
            return None
        out = np.full((len(rows), len(names)), np.nan, np.float32)
        for j, n in enumerate(names):
            if n in self.cohort.tabular_names:
                out[:, j] = self.cohort.tabular[rows, self.cohort.tabular_names.index(n)]
        return out

    def run(self, stack: FittedStack, pos: np.ndarray, cls: int, method: str, steps: int,
            only: Sequence[str] | None = None) -> Attributions:
        rows = self.test_rows[pos]
        level0 = {m: self.preds[m].test_by_fold[:, pos] for m in stack.spec.members}
        stab = None
        if stack.spec.passthrough:
            stab = self.cols(rows, stack.tabular_names)
            stab = None if stab is None else stab.astype(np.float64)
        x = np.asarray(self.cohort.signals[rows], np.float32)
        return attribute(self.members, stack, level0, x,
                         {m.name: self.cols(rows, m.tabular_names) for m in self.members},
                         stab, cls, method, steps,
                         features={m: f[rows] for m, f in self.features.items()}, only=only)

    def stacked(self, stack: FittedStack, pos: np.ndarray) -> np.ndarray:
        rows = self.test_rows[pos]
        stab = self.cols(rows, stack.tabular_names) if stack.spec.passthrough else None
        return stack.predict_test({m: self.preds[m].test_by_fold[:, pos]
                                   for m in stack.spec.members},
                                  None if stab is None else stab.astype(np.float64))


def _cached_features(members: Sequence[Member], cohort: Cohort, run_dir: Path
                     ) -> dict[str, np.ndarray]:
    """The run's feature cache per feature member (absent: computed on the rows needed)."""
    from ensembler.bundle.feature_io import FeatureBundleMember
    from ensembler.features.compute import compute_features, feature_key

    out = {}
    for m in members:
        if isinstance(m, FeatureBundleMember) and (
                run_dir / "features" / f"features-{feature_key(m.feature_set, cohort)}"
                / "info.json").is_file():
            out[m.name] = compute_features(m.feature_set, cohort, run_dir / "features").values
    return out


def class_summary(inp: SectionInputs, stack: FittedStack, pos: np.ndarray, cls: int, name: str
             ) -> ClassSummary:
    att = inp.run(stack, pos, cls, "gxi", 1)
    rows = {"stack": att.stack_lead.mean(axis=0).tolist()}
    rows.update({m: v.mean(axis=0).tolist() for m, v in att.member_lead().items()})
    outside = {"stack": {"global": float(att.stack_global.mean()),
                         "tabular": float(att.stack_tabular.mean())}}
    outside.update({m: {"global": float(f.part("global").mean()),
                        "tabular": float(f.part("tabular").mean())}
                    for m, f in att.features.items()})
    return ClassSummary(name, rows, outside)


def _drawn(inp: SectionInputs, stack: FittedStack, best: FittedStack, pos: np.ndarray, cls: int,
           name: str, steps: int) -> list[DrawnECG]:
    if not len(pos):
        return []
    bm = best.spec.members[0]
    att = inp.run(stack, pos, cls, "ig", steps, only=[*stack.spec.members, bm])
    p_stack, p_best = inp.stacked(stack, pos)[:, cls], inp.stacked(best, pos)[:, cls]
    rows = inp.test_rows[pos]
    out = []
    for i, r in enumerate(rows):
        if bm in att.maps:
            best_map = att.maps[bm][i]
            best_lead = np.abs(best_map).mean(axis=-1).tolist()
        else:
            best_map, best_lead = None, att.features[bm].per_lead(absolute=False)[i].tolist()
        out.append(DrawnECG(
            record=str(inp.cohort.record_id[r]), patient=str(inp.cohort.patient_id[r]),
            class_name=name, signal=np.asarray(inp.cohort.signals[r], np.float32),
            stack_probability=float(p_stack[i]), best_probability=float(p_best[i]),
            stack_map=att.stack_map[i], stack_lead=att.stack_lead[i].tolist(),
            best_map=best_map, best_lead=best_lead))
    return out


def explain_section(cfg: RunConfig, run_dir: Path, cohort: Cohort,
                    preds: Mapping[str, MemberPredictions], stack: FittedStack,
                    best: FittedStack, stack_name: str) -> AttributionSection:
    """The section for the run's test set (``unavailable`` says why there is none, e.g. a
    member of the stack with external predictions and no weights)."""
    t0 = time.perf_counter()
    sec = cfg.report.explain
    inp, skipped = SectionInputs.from_run(run_dir, cohort, preds)
    test_rows = inp.test_rows
    lost = sorted({*stack.spec.members, *best.spec.members} - {m.name for m in inp.members})
    if lost:
        return AttributionSection(
            lead_names=list(cohort.lead_names), stack=stack_name,
            best_single=best.spec.members[0], drawn_rule="", sample_rule="",
            sample_records=[], drawn={}, summaries=[], skipped=skipped,
            unavailable=f"member(s) {lost} cannot be rebuilt from the run directory: "
                        + "; ".join(skipped[m] for m in lost if m in skipped))
    sample = sample_rows(len(test_rows), sec.sample, cfg.seed)
    labels = cohort.labels[test_rows]
    drawn, summaries = {}, []
    for c, name in enumerate(cohort.class_names):
        summaries.append(class_summary(inp, stack, sample, c, name))
        pos = np.array(drawn_rows(labels, cohort.patient_id[test_rows],
                                  cohort.record_id[test_rows], c, sec.per_class), np.int64)
        drawn[name] = _drawn(inp, stack, best, pos, c, name, sec.ig_steps)
    return AttributionSection(
        lead_names=list(cohort.lead_names), stack=stack_name, best_single=best.spec.members[0],
        drawn_rule=f"per class, the first {sec.per_class} test patients by patient id with a "
                   "positive label for the class, each patient's first such ECG by record id "
                   "(report.explain.per_class, fixed in the config)",
        sample_rule=f"{len(sample)} of {len(test_rows)} test ECGs drawn at random with the "
                    "run seed, whatever their labels (report.explain.sample, at most 200)",
        sample_records=[str(cohort.record_id[test_rows[i]]) for i in sample],
        drawn=drawn, summaries=summaries, skipped=skipped, ig_steps=sec.ig_steps,
        seconds=time.perf_counter() - t0)
