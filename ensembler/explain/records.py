"""Explain a bundle's output on records: member maps, the stack's apportionment, one map.

Records go through exactly ``predict``'s path (:func:`ensembler.bundle.records.load_records`
then :func:`ensembler.bundle.predict.score_loaded`), so the probability explained is
the one ``predict`` writes. The attribution itself is :func:`ensembler.explain.core.attribute`
(network maps, feature members' pred_contrib by lead, the stack's shares and map).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ensembler.bundle.bundle import Bundle
from ensembler.bundle.predict import score_loaded
from ensembler.bundle.records import RecordInput, collect_inputs, load_records
from ensembler.errors import DataError
from ensembler.explain.attribution import lead_importance
from ensembler.explain.core import Attributions, attribute, stack_map

__all__ = ["FeaturePart", "RecordExplanation", "explain_inputs", "lead_summary",
           "resolve_class", "stack_map"]


@dataclass
class FeaturePart:
    """One feature member on one record: pred_contrib (log-odds) by lead and the rest."""

    per_lead: list[float]  # signed sum of the lead's feature contributions
    per_lead_abs: list[float]  # sum of their |contributions|
    global_features: dict[str, float]  # whole-ECG features (rate, intervals, axes, ...)
    tabular: dict[str, float]  # the member's tabular inputs (age, sex, ...)
    bias: float  # expected raw score of the boosters


@dataclass
class RecordExplanation:
    """One record, one class. Maps are (leads, samples) on the bundle's preprocessed signal."""

    record: str
    class_name: str
    probability: float
    signal: np.ndarray  # (leads, samples) preprocessed, mV
    member_maps: dict[str, np.ndarray]
    member_probability: dict[str, float]
    shares: dict[str, float]  # member / "tabular" share of the stack's raw score
    bias: float
    scale: str
    stack_method: str
    stack_map: np.ndarray
    prediction: dict[str, object] = field(default_factory=dict)  # predict's row
    feature_parts: dict[str, FeaturePart] = field(default_factory=dict)
    stack_lead: list[float] = field(default_factory=list)  # apportioned |share| per lead
    stack_global: float = 0.0  # |share| apportioned to global features
    stack_tabular: float = 0.0  # |passthrough share| + feature members' tabular part

    def lead_importance(self) -> dict[str, list[float]]:
        """Per lead: the stack's apportioned |share|; per network member the mean
        |attribution| over time; per feature member the summed |pred_contrib|."""
        out = {"stack": [round(float(v), 8) for v in self.stack_lead]}
        out.update({k: lead_importance(v[None])[0].round(8).tolist()
                    for k, v in self.member_maps.items()})
        out.update({k: [round(v, 8) for v in p.per_lead_abs]
                    for k, p in self.feature_parts.items()})
        return out


def resolve_class(bundle: Bundle, name: str | None) -> int:
    """Index of class ``name`` (default: the only class, else an error listing them)."""
    names = bundle.class_names
    if name is None:
        if len(names) == 1:
            return 0
        raise DataError(f"--class: the bundle predicts {names}; name the class to explain")
    if name not in names:
        raise DataError(f"--class: unknown class {name!r}; the bundle predicts {names}")
    return names.index(name)


def explain_inputs(bundle: Bundle, inputs: Sequence[str | Path], class_name: str | None = None,
                   method: str = "ig", n_steps: int = 32,
                   max_records: int | None = None) -> list[RecordExplanation]:
    """Read records as ``predict`` does and explain class ``class_name`` on each.

    ``max_records``: keep only the first that many records by record id (a rule fixed
    before any record is looked at, for summaries over a sample).
    """
    cls = resolve_class(bundle, class_name)
    if bundle.backend != "torch":
        raise DataError("explain needs the torch backend (gradients); load without --backend")
    records: list[RecordInput]
    records, absent = collect_inputs([str(i) for i in inputs], bundle.tabular_names)
    if max_records is not None:
        records = sorted(records, key=lambda r: r.record_id)[:max_records]
    loaded = load_records(records, bundle.preprocessing, bundle.tabular_names, False, absent)
    preds = score_loaded(bundle, loaded)
    x, tab = loaded.signals, loaded.tabular
    n = len(loaded.record_id)
    if x.shape[0] != n:  # the default length rule gives one window per record
        raise DataError("explain: expected one window per record")
    level0 = bundle.level0(x, tab)
    # the bundle's own column selection, as in Bundle.level0 / Bundle.combine
    stab = bundle._columns(tab, bundle.stack.tabular_names, n) \
        if bundle.stack.spec.passthrough else None
    att = attribute(bundle.members, bundle.stack, level0, x,
                    {m.name: bundle._columns(tab, m.tabular_names, n) for m in bundle.members},
                    stab, cls, method, n_steps)
    rows = json.loads(preds.frame.to_json(orient="records"))  # plain JSON types
    return [record_explanation(att, i, rid, bundle.class_names[cls],
                               float(preds.proba[i, cls]), np.asarray(x[i]),
                               {m: float(v[:, i, cls].mean()) for m, v in level0.items()},
                               rows[i])
            for i, rid in enumerate(loaded.record_id)]


def record_explanation(att: Attributions, i: int, record: str, class_name: str,
                       probability: float, signal: np.ndarray,
                       member_probability: dict[str, float],
                       prediction: dict[str, object] | None = None) -> RecordExplanation:
    """Row ``i`` of ``att`` as one record's explanation."""
    parts = {m: FeaturePart(per_lead=f.per_lead(absolute=False)[i].round(8).tolist(),
                            per_lead_abs=f.per_lead()[i].round(8).tolist(),
                            global_features=f.named("global", i), tabular=f.named("tabular", i),
                            bias=float(f.bias[i])) for m, f in att.features.items()}
    return RecordExplanation(
        record=record, class_name=class_name, probability=probability, signal=signal,
        member_maps={m: a[i] for m, a in att.maps.items()},
        member_probability=member_probability,
        shares={k: float(v[i]) for k, v in att.shares.items()}, bias=float(att.bias[i]),
        scale=att.scale, stack_method=att.stack_method, stack_map=att.stack_map[i],
        prediction=prediction or {}, feature_parts=parts,
        stack_lead=att.stack_lead[i].tolist(), stack_global=float(att.stack_global[i]),
        stack_tabular=float(att.stack_tabular[i]))


def lead_summary(exps: Sequence[RecordExplanation], lead_names: Sequence[str]
                 ) -> dict[str, dict[str, float]]:
    """Mean over records of the per-lead importance (see
    :meth:`RecordExplanation.lead_importance`): ``{map: {lead: v}}`` for ``"stack"`` and
    each member."""
    if not exps:
        raise DataError("explain --summary: no record to summarise")
    per = [e.lead_importance() for e in exps]
    return {key: {lead: float(np.mean([p[key][j] for p in per]))
                  for j, lead in enumerate(lead_names)} for key in per[0]}
