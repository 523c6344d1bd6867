"""Explain a bundle's output on records: member maps, the stack's apportionment, one map.

Records go through exactly ``predict``'s path (:func:`ensembler.bundle.records.load_records`
then :func:`ensembler.bundle.predict.score_loaded`), so the probability explained is
the one ``predict`` writes. Per record and class:

1. each network member's lead x time map (:func:`member_attribution`, averaged over
   its fold models);
2. the stack's score split into member and tabular-passthrough shares
   (:func:`stacking.explain.stack_contributions`, averaged over the level-0 sets);
3. the stack map: each member's map rescaled so that its total |attribution| equals
   |its share|, then summed. This is a display apportionment, not a gradient of the
   stack; the passthrough share has no lead x time map and is reported beside it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ensembler.bundle.bundle import Bundle
from ensembler.bundle.members import BundleMember
from ensembler.bundle.predict import score_loaded
from ensembler.bundle.records import RecordInput, collect_inputs, load_records
from ensembler.errors import DataError
from ensembler.explain.attribution import lead_importance, member_attribution

__all__ = ["RecordExplanation", "explain_inputs", "lead_summary", "resolve_class", "stack_map"]


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

    def lead_importance(self) -> dict[str, list[float]]:
        """Mean |attribution| per lead, for the stack map and each member."""
        maps = {"stack": self.stack_map, **self.member_maps}
        return {k: lead_importance(v[None])[0].round(8).tolist() for k, v in maps.items()}


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


def _stack_shares(bundle: Bundle, level0: dict[str, np.ndarray], stab: np.ndarray | None,
                  cls: int) -> tuple[dict[str, np.ndarray], np.ndarray, str, str]:
    from stacking.explain import member_shares, stack_contributions

    names = [m.name for m in bundle.members]
    per_set = [stack_contributions(bundle.stack, {m: v[k] for m, v in level0.items()},
                                   stab)[cls] for k in range(bundle.n_sets)]
    shares = {key: np.mean([member_shares(c, names)[key] for c in per_set], axis=0)
              for key in [*names, "tabular"]}
    bias = np.mean([c.bias for c in per_set], axis=0)
    return shares, bias, per_set[0].scale, per_set[0].method


def stack_map(maps: dict[str, np.ndarray], shares: dict[str, np.ndarray]) -> np.ndarray:
    """(N, leads, T): each member's (N, leads, T) map rescaled to |its (N,) share|, summed."""
    out = np.zeros_like(next(iter(maps.values())))
    for m, a in maps.items():
        total = np.abs(a).sum(axis=(1, 2), keepdims=True)
        scale = np.abs(shares[m])[:, None, None] / np.where(total > 0, total, 1.0)
        out += a * scale
    return out


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
    networks = [m for m in bundle.members if isinstance(m, BundleMember)]
    if len(networks) != len(bundle.members):
        raise DataError("explain: this bundle has feature member(s) "
                        f"{[m.name for m in bundle.members if m not in networks]}; explain "
                        "attributes networks' input gradients only (no per-feature "
                        "explanation of feature members yet)")
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
    shares, bias, scale, method_s = _stack_shares(bundle, level0, stab, cls)
    maps = {m.name: member_attribution(m, x, bundle._columns(tab, m.tabular_names, n), cls,
                                       method, n_steps) for m in networks}
    smap = stack_map(maps, shares)
    rows = json.loads(preds.frame.to_json(orient="records"))  # plain JSON types
    return [RecordExplanation(
        record=rid, class_name=bundle.class_names[cls], probability=float(preds.proba[i, cls]),
        signal=np.asarray(x[i]), member_maps={m: a[i] for m, a in maps.items()},
        member_probability={m: float(v[:, i, cls].mean()) for m, v in level0.items()},
        shares={k: float(v[i]) for k, v in shares.items()}, bias=float(bias[i]), scale=scale,
        stack_method=method_s, stack_map=smap[i], prediction=rows[i])
        for i, rid in enumerate(loaded.record_id)]


def lead_summary(exps: Sequence[RecordExplanation], lead_names: Sequence[str]
                 ) -> dict[str, dict[str, float]]:
    """Mean over records of the per-lead importance (mean |attribution|): ``{map: {lead: v}}``
    for ``"stack"`` and each member."""
    if not exps:
        raise DataError("explain --summary: no record to summarise")
    per = [e.lead_importance() for e in exps]
    return {key: {lead: float(np.mean([p[key][j] for p in per]))
                  for j, lead in enumerate(lead_names)} for key in per[0]}
