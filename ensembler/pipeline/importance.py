"""Per-class top features of a run's feature members, over development out-of-fold rows.

Each fold model explains the rows it predicted out of fold (``preds.npz``'s ``oof_rows``),
so every development ECG is explained once, by the model that did not train on it; the
test rows are not used. See :mod:`ensembler.report.importance` for the two measures.
"""

from __future__ import annotations

import numpy as np

from ensembler.config import FeatureMemberEntry
from ensembler.pipeline.context import RunContext
from ensembler.report.schema import FeatureImportance, FeatureRank
from ensembler.training.feature_learners import (
    BoosterModel,
    FeatureLearner,
    contributions,
    read_learner,
)
from ensembler.training.feature_member import member_inputs
from ensembler.training.predictions import MemberPredictions

__all__ = ["contributions", "feature_importances", "gains", "member_importance"]

ROWS = ("development out-of-fold rows (each explained by the fold model that did not train "
        "on it)")


def gains(model: FeatureLearner) -> np.ndarray | None:
    """``(C, F)`` LightGBM total split gain per class and feature (None for logistic)."""
    if not isinstance(model, BoosterModel):
        return None
    return np.stack([b.feature_importance(importance_type="gain") for b in model.boosters])


def member_importance(ctx: RunContext, entry: FeatureMemberEntry, preds: MemberPredictions,
                      top_k: int) -> FeatureImportance:
    """Top ``top_k`` features per class of feature member ``entry`` (see module doc)."""
    meta = preds.meta
    learner = str(meta.learner or "lightgbm")
    _, x, names = member_inputs(entry, ctx.cohort, ctx.run_dir, list(meta.tabular_names or []))
    n_classes = preds.oof.shape[1]
    k = preds.test_by_fold.shape[0]
    abs_sum = np.zeros((n_classes, x.shape[1]))
    gain_sum = np.zeros((n_classes, x.shape[1]))
    n_rows = 0
    for fold in range(k):
        folder = ctx.run_dir / "base" / entry.name / f"fold_{fold}"
        model = read_learner(folder, learner, x.shape[1], n_classes)
        with np.load(folder / "preds.npz", allow_pickle=False) as z:
            rows = z["oof_rows"]
        abs_sum += np.abs(contributions(model, x[rows])).sum(axis=1)
        n_rows += len(rows)
        g = gains(model)
        if g is not None:
            gain_sum += g / k
    mean_abs = abs_sum / max(n_rows, 1)
    per_class = {}
    for c, cls in enumerate(preds.class_names):
        order = np.argsort(-mean_abs[c], kind="stable")[:top_k]
        total_gain, total_abs = gain_sum[c].sum(), mean_abs[c].sum()
        per_class[str(cls)] = [FeatureRank(
            feature=names[j], mean_abs_contribution=float(mean_abs[c, j]),
            contribution_share=float(mean_abs[c, j] / total_abs) if total_abs > 0 else 0.0,
            gain=None if learner != "lightgbm" else float(gain_sum[c, j]),
            gain_share=None if learner != "lightgbm" or total_gain <= 0
            else float(gain_sum[c, j] / total_gain)) for j in order]
    return FeatureImportance(member=entry.name, learner=learner, rows=ROWS, n_rows=n_rows,
                             unit="log-odds", per_class=per_class)


def feature_importances(ctx: RunContext, preds: dict[str, MemberPredictions],
                        top_k: int) -> list[FeatureImportance]:
    """:func:`member_importance` of every feature member with predictions."""
    return [member_importance(ctx, e, preds[e.name], top_k)
            for e in ctx.cfg.feature_members if e.name in preds]
