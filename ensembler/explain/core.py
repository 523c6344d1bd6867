"""Attribute a stack and its members on N ECGs, whatever loaded them (a bundle or a run).

Per class:

1. each network member's lead x time map (:func:`member_attribution`, averaged over
   its fold models);
2. each feature member's LightGBM ``pred_contrib`` per feature, mapped to the lead it
   is measured on, or to *global* / *tabular* (:func:`feature_attribution`);
3. the stack's score split into member and tabular-passthrough shares
   (:func:`stacking.explain.stack_contributions`, averaged over the level-0 sets);
4. the stack map: each network member's map rescaled so that its total |attribution|
   equals |its share|, then summed (lead x time). A display apportionment, not a
   gradient of the stack;
5. the stack's per-lead importance: per lead, the |share| apportioned to it, i.e.
   ``sum_t |stack map|`` plus, for each feature member, ``|share| x`` the fraction of
   its total |pred_contrib| on that lead's features. The rest of a feature member's
   |share| is reported as *global* (whole-ECG features) and *tabular* (its tabular
   inputs, added to the passthrough share); they are never spread over leads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ensembler.bundle.feature_io import FeatureBundleMember
from ensembler.bundle.members import BundleMember
from ensembler.explain.attribution import lead_importance, member_attribution
from ensembler.explain.features import FeatureAttribution, feature_attribution
from stacking.model import FittedStack

__all__ = ["Attributions", "attribute", "stack_map", "stack_shares"]

Member = BundleMember | FeatureBundleMember


@dataclass
class Attributions:
    """One class on N records. Maps are (N, leads, T); shares and buckets are (N,)."""

    maps: dict[str, np.ndarray]  # network member -> (N, leads, T)
    features: dict[str, FeatureAttribution]  # feature member -> pred_contrib
    shares: dict[str, np.ndarray]  # member / "tabular" -> (N,) share of the stack's score
    bias: np.ndarray
    scale: str
    stack_method: str
    stack_map: np.ndarray  # (N, leads, T) network members only
    stack_lead: np.ndarray  # (N, leads) apportioned |share| per lead
    stack_global: np.ndarray  # (N,) |share| apportioned to global features
    stack_tabular: np.ndarray  # (N,) |passthrough share| + feature members' tabular part

    def member_lead(self) -> dict[str, np.ndarray]:
        """(N, leads) per member: mean |attribution| over time (networks) or the summed
        |pred_contrib| of the lead's features (feature members)."""
        out = {m: lead_importance(a) for m, a in self.maps.items()}
        out.update({m: f.per_lead() for m, f in self.features.items()})
        return out


def stack_shares(stack: FittedStack, level0: Mapping[str, np.ndarray],
                 stab: np.ndarray | None, cls: int
                 ) -> tuple[dict[str, np.ndarray], np.ndarray, str, str]:
    """Member / tabular shares (N,) of class ``cls``, averaged over the level-0 sets.

    ``level0``: member -> (n_sets, N, C) probabilities of every member of ``stack``.
    """
    from stacking.explain import member_shares, stack_contributions

    names = list(stack.spec.members)
    n_sets = next(iter(level0.values())).shape[0]
    per_set = [stack_contributions(stack, {m: level0[m][k] for m in names}, stab)[cls]
               for k in range(n_sets)]
    shares = {key: np.mean([member_shares(c, names)[key] for c in per_set], axis=0)
              for key in [*names, "tabular"]}
    bias = np.mean([c.bias for c in per_set], axis=0)
    return shares, bias, per_set[0].scale, per_set[0].method


def stack_map(maps: Mapping[str, np.ndarray], shares: Mapping[str, np.ndarray],
              shape: tuple[int, ...] | None = None) -> np.ndarray:
    """(N, leads, T): each member's (N, leads, T) map rescaled to |its (N,) share|, summed."""
    if not maps:
        if shape is None:
            raise ValueError("stack_map: no map and no shape")
        return np.zeros(shape, np.float32)
    out = np.zeros_like(next(iter(maps.values())))
    for m, a in maps.items():
        total = np.abs(a).sum(axis=(1, 2), keepdims=True)
        scale = np.abs(shares[m])[:, None, None] / np.where(total > 0, total, 1.0)
        out += a * scale
    return out


def attribute(members: Sequence[Member], stack: FittedStack, level0: Mapping[str, np.ndarray],
              signals: np.ndarray, member_tabular: Mapping[str, np.ndarray | None],
              stack_tabular: np.ndarray | None, cls: int, method: str = "ig",
              n_steps: int = 32, features: Mapping[str, np.ndarray] | None = None,
              only: Sequence[str] | None = None) -> Attributions:
    """Attribute class ``cls`` on ``signals`` (N, leads, T) for the stack and its members.

    ``level0``: member -> (n_sets, N, C) probabilities (what the stack combined);
    ``member_tabular``: member -> (N, len(tabular_names)) raw inputs or None;
    ``features``: optional precomputed (N, F) features per feature member (the run's
    cache); ``only``: attribute these members (default: every member of ``members``).
    """
    shares, bias, scale, method_s = stack_shares(stack, level0, stack_tabular, cls)
    chosen = [m for m in members if only is None or m.name in only]
    maps = {m.name: member_attribution(m, signals, member_tabular.get(m.name), cls, method,
                                       n_steps)
            for m in chosen if isinstance(m, BundleMember)}
    feats = {m.name: feature_attribution(
        m, None if features and m.name in features else signals,
        [member_tabular.get(m.name)] * len(m.models), cls,
        (features or {}).get(m.name)) for m in chosen if isinstance(m, FeatureBundleMember)}
    in_stack = set(stack.spec.members)
    smap = stack_map({m: a for m, a in maps.items() if m in in_stack}, shares, signals.shape)
    lead = np.abs(smap).sum(axis=2).astype(np.float64)
    glob = np.zeros(len(signals))
    tab = np.abs(shares["tabular"]).astype(np.float64)
    for m, f in feats.items():
        if m not in in_stack:
            continue
        lf, gf, tf = f.fractions()
        s = np.abs(shares[m])
        lead, glob, tab = lead + s[:, None] * lf, glob + s * gf, tab + s * tf
    return Attributions(maps=maps, features=feats, shares=shares, bias=bias, scale=scale,
                        stack_method=method_s, stack_map=smap, stack_lead=lead,
                        stack_global=glob, stack_tabular=tab)
