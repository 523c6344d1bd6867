"""A feature member's explanation: one exact contribution per feature, mapped to leads.

A feature member scores an ECG with one model per class and fold on measured features
(``ecg_clinical``: intervals, axes, amplitudes, rhythm, ...) and its tabular inputs. Its
raw score (log-odds) is split exactly into one contribution per input column plus a
bias, averaged over the member's fold models as its predictions are averaged over
level-0 sets:

- learner ``lightgbm``: ``Booster.predict(pred_contrib=True)`` (TreeSHAP; the bias is
  the expected raw score);
- learner ``logistic``: ``coef_j * (x_j - mean_j) / scale_j`` on the fold's median-imputed,
  standardised columns (the bias is the intercept), i.e. relative to the training mean.

Columns are mapped to what they are measured on: a column named ``<lead>:<name>``
(e.g. ``V1:q_amp_mv``, ``V2:beat_+040ms``) belongs to that lead; any other feature
column (heart rate, intervals, axes, rhythm, signal quality) is *global*, measured
on the whole ECG; the member's tabular inputs (age, sex, ...) are *tabular*. Global
and tabular contributions have no lead and are shown separately, never spread over
leads. A feature member has no time axis: a lead's contribution is one number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ensembler.bundle.feature_io import FeatureBundleMember
from ensembler.training.feature_learners import contributions
from ensembler.training.feature_member import learner_input

__all__ = ["FeatureAttribution", "column_owner", "feature_attribution"]


def column_owner(column: str, lead_names: Sequence[str], tabular_names: Sequence[str]) -> str:
    """The lead a column is measured on, ``"tabular"`` or ``"global"``."""
    if column in tabular_names:
        return "tabular"
    head = column.split(":", 1)[0] if ":" in column else ""
    return head if head in lead_names else "global"


@dataclass(frozen=True)
class FeatureAttribution:
    """Class ``cls``'s contributions of a feature member on N records (log-odds).

    ``values`` (N, F) per column of ``columns``; ``bias`` (N,) the bias (see above);
    ``owner[j]`` the lead / ``"global"`` / ``"tabular"`` column j belongs to.
    """

    member: str
    columns: list[str]
    owner: list[str]
    values: np.ndarray
    bias: np.ndarray
    lead_names: list[str]

    def per_lead(self, absolute: bool = True) -> np.ndarray:
        """(N, leads): sum over each lead's columns of |contribution| (or signed)."""
        v = np.abs(self.values) if absolute else self.values
        out = np.zeros((v.shape[0], len(self.lead_names)))
        for j, owner in enumerate(self.owner):
            if owner in self.lead_names:
                out[:, self.lead_names.index(owner)] += v[:, j]
        return out

    def part(self, kind: str, absolute: bool = True) -> np.ndarray:
        """(N,): summed |contribution| (or signed) of the ``"global"`` or ``"tabular"`` columns."""
        v = np.abs(self.values) if absolute else self.values
        cols = [j for j, o in enumerate(self.owner) if o == kind]
        return v[:, cols].sum(axis=1) if cols else np.zeros(v.shape[0])

    def named(self, kind: str, i: int) -> dict[str, float]:
        """Record ``i``'s signed contribution of every ``kind`` (global/tabular) column."""
        return {c: float(self.values[i, j]) for j, (c, o) in
                enumerate(zip(self.columns, self.owner, strict=True)) if o == kind}

    def fractions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N, leads), (N,), (N,): share of the total |contribution| per lead, global, tabular."""
        lead, glob, tab = self.per_lead(), self.part("global"), self.part("tabular")
        total = lead.sum(axis=1) + glob + tab
        safe = np.where(total > 0, total, 1.0)
        return lead / safe[:, None], glob / safe, tab / safe


def feature_attribution(member: FeatureBundleMember, signals: np.ndarray | None,
                        tabulars: Sequence[np.ndarray | None], cls: int,
                        features: np.ndarray | None = None) -> FeatureAttribution:
    """Contributions to class ``cls``'s log-odds, averaged over the member's fold models.

    Parameters
    ----------
    signals : (N, leads, T) preprocessed signals (features are computed from them), or
        None when ``features`` (N, F), e.g. the run's feature cache, are given.
    tabulars : per fold model, (N, len(member.tabular_names)) raw values or None.
    """
    if features is None:
        if signals is None:
            raise ValueError(f"member {member.name!r}: give signals or features")
        feats = member.features(signals)
    else:
        feats = np.asarray(features)
    columns = list(member.feature_set.columns(member.lead_names)) + list(member.tabular_names)
    raw = np.mean([contributions(fm.model, learner_input(
        feats, tabulars[k] if member.tabular_names else None), with_bias=True)[cls]
        for k, fm in enumerate(member.models)], axis=0)
    if raw.shape[1] != len(columns) + 1:
        raise ValueError(f"member {member.name!r}: contributions have {raw.shape[1] - 1} "
                         f"columns, the feature set and tabular inputs name {len(columns)}")
    owner = [column_owner(c, member.lead_names, member.tabular_names) for c in columns]
    return FeatureAttribution(member.name, columns, owner, raw[:, :-1], raw[:, -1],
                              list(member.lead_names))
