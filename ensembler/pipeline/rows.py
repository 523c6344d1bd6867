"""Leaderboard rows of the comparison, one builder per row kind.

one model (the best single member's fold-1 model: ``<m>:one_network`` of kind
``network`` for a network, ``<m>:one_model`` of kind ``feature_model`` for a feature
member, ``external_model`` for external predictions), refit-full networks (every member
with a model trained once on all development data: ``<m>:refit_full``), fold bags (every
member), seed bags (a model entry's seed replicas) and stacks (the fixed recipes and
the tuned ones). Each row carries its size and latency (members plus meta-learner)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ensembler.evaluation import LatencyStats
from ensembler.evaluation.labels import SELECTED_ON
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.latency import combine, member_latency, stack_meta_latency
from ensembler.pipeline.stack import PRIMARY, TUNED, load_fitted
from ensembler.report import LeaderboardEntry
from ensembler.report.inputs import EntryKind
from ensembler.training.member_meta import MemberMeta
from ensembler.training.metrics import macro_auc
from ensembler.training.predictions import MemberPredictions

#: Development-AUC labels (what each number is).
TUNED_MEMBER = "after tuning (optimistic)"
ONE_MODEL = "the fold bag's OOF; this single {what} has no OOF predictions"
REFIT_FULL = "the fold bag's OOF; a network refit on all development data has no OOF"


@dataclass
class RowCosts:
    """Parameters and measured latency of every member, combined per row.

    ``latency``: one fold model's ms per ECG per member; ``shared``: ms per ECG a member
    spends once per ECG whatever the number of its fold models — a feature member's
    feature computation (its fold models all read the same features, as in a bundle).
    """

    params: dict[str, int]
    latency: dict[str, Any]
    shared: dict[str, float] = field(default_factory=dict)

    @classmethod
    def measure(cls, ctx: RunContext, preds: dict[str, MemberPredictions]) -> RowCosts:
        cohort = ctx.cohort
        n_leads, n_samples = cohort.signals.shape[1], cohort.signals.shape[2]
        reps = ctx.cfg.report.latency_repeats
        lat = {m: member_latency(ctx.run_dir, p.meta, n_leads, n_samples, cohort.n_classes,
                                 cohort.fs, reps, features=False) for m, p in preds.items()}
        shared = {m: float(p.meta.feature_cpu_ms_per_ecg or 0.0) for m, p in preds.items()
                  if p.meta.kind == "features"}
        return cls({m: int(p.meta.n_params) for m, p in preds.items()}, lat, shared)

    def __call__(self, members: list[str], mult: int) -> tuple[int, Any]:
        """(parameters, latency) of ``members`` with ``mult`` fold models each; a feature
        member's feature computation counts once."""
        parts = [(lm, float(mult)) for m in members if (lm := self.latency[m]) is not None]
        if parts:
            sizes = list(parts[0][0])
            parts += [({bs: LatencyStats(bs, ms, ms, parts[0][0][bs].repeats) for bs in sizes},
                       1.0) for m in members if (ms := self.shared.get(m)) is not None]
        return sum(self.params[m] * mult for m in members), combine(parts) if parts else None


def one_model_kind(meta: MemberMeta) -> tuple[str, EntryKind]:
    """``(row-name suffix, leaderboard kind)`` of one fold model of a member with predictions
    meta ``meta``: a network, a feature member's model (feature set + learner) or an
    external member's fold-1 predictions."""
    if meta.kind == "features":
        return "one_model", "feature_model"
    if meta.kind == "external":
        return "one_model", "external_model"
    return "one_network", "network"


def one_model_row(ctx: RunContext, preds: dict[str, MemberPredictions],
                  cost: RowCosts) -> LeaderboardEntry | None:
    """The best single member's one model (its fold-1 model); None when it has a refit-full
    model: its ``<m>:refit_full`` row (:func:`refit_full_rows`) is then that one model."""
    best = load_fitted(ctx.run_dir, "best_single").spec.members[0]
    if preds[best].test_refit is not None:
        return None
    return single_model_row(best, preds[best], cost)


def single_model_row(best: str, bp: MemberPredictions, cost: RowCosts) -> LeaderboardEntry:
    """Member ``best``'s fold-1 model as a row, named and kinded by what the member is; its
    latency is the member's (a feature member's includes the feature computation)."""
    n_one, l_one = cost([best], 1)
    suffix, kind = one_model_kind(bp.meta)
    return LeaderboardEntry(
        name=f"{best}:{suffix}", kind=kind, test_proba=bp.test_by_fold[0],
        dev_oof_proba=bp.oof, members=[best], n_params=n_one, latency_ms=l_one,
        dev_auc_label=ONE_MODEL.format(what="network" if kind == "network" else "model"),
        notes="fold-1 model; threshold and dev AUC from the member's fold-bag OOF")


def refit_full_rows(preds: dict[str, MemberPredictions], cost: RowCosts
                    ) -> list[LeaderboardEntry]:
    """Every member with a refit-full model (``training.refit_full``): that one network,
    trained once on all development data for the median best epoch of its folds. It has
    no OOF predictions, so its threshold and dev AUC come from the member's fold bag; it is
    a row of the comparison only (stacking and the best-single choice read the fold bags'
    OOF, never these rows)."""
    rows = []
    for m, p in preds.items():
        if p.test_refit is None:
            continue
        n_m, l_m = cost([m], 1)
        rows.append(LeaderboardEntry(
            name=f"{m}:refit_full", kind="refit_full", test_proba=p.test_refit,
            dev_oof_proba=p.oof, members=[m], n_params=n_m, latency_ms=l_m,
            dev_auc_label=REFIT_FULL,
            notes="a single network trained once on all development data (median best "
                  "epoch of its folds); threshold and dev AUC from the member's fold-bag OOF"))
    return rows


def fold_bag_rows(preds: dict[str, MemberPredictions], cost: RowCosts, k: int
                  ) -> list[LeaderboardEntry]:
    """Every member: its K fold models' mean on test, its OOF on development data."""
    rows = []
    for m, p in preds.items():
        n_m, l_m = cost([m], k)
        rows.append(LeaderboardEntry(
            name=m, kind="fold_bag", test_proba=p.test, dev_oof_proba=p.oof, members=[m],
            n_params=n_m, latency_ms=l_m,
            dev_auc_label=TUNED_MEMBER if p.meta.tuned else None))
    return rows


def seed_groups(preds: dict[str, MemberPredictions]) -> dict[str, list[str]]:
    """Model entry -> its seed replicas' member names."""
    by_entry: dict[str, list[str]] = defaultdict(list)
    for m, p in preds.items():
        if p.meta.replica[0] == "seed":
            by_entry[p.meta.entry].append(m)
    return by_entry


def seed_bag_rows(preds: dict[str, MemberPredictions], by_entry: dict[str, list[str]],
                  cost: RowCosts, k: int, y_test: np.ndarray) -> list[LeaderboardEntry]:
    """Each entry with two or more seed replicas: their mean, and each replica's test AUC."""
    rows = []
    for entry, ms in by_entry.items():
        if len(ms) < 2:
            continue
        n_s, l_s = cost(ms, k)
        rows.append(LeaderboardEntry(
            name=f"{entry}:seed_bag", kind="seed_bag",
            test_proba=np.mean([preds[m].test for m in ms], axis=0),
            dev_oof_proba=np.mean([preds[m].oof for m in ms], axis=0), members=ms,
            n_params=n_s, latency_ms=l_s,
            seed_spread=[macro_auc(y_test, preds[m].test) for m in ms]))
    return rows


def stack_rows(ctx: RunContext, preds: dict[str, MemberPredictions], names: list[str],
               joint: dict[str, Any], cost: RowCosts, k: int) -> list[LeaderboardEntry]:
    """Every fitted stack: the mean of its K fold-wise stacked test outputs, its
    meta-level OOF; the primary stack also carries its nested-CV estimate."""
    cohort = ctx.cohort
    test = np.flatnonzero(ctx.split.fold == -1)
    rows = []
    for name in names:
        fitted = load_fitted(ctx.run_dir, name)
        tab = None
        if fitted.tabular_names:
            cols = [cohort.tabular_names.index(t) for t in fitted.tabular_names]
            tab = cohort.tabular[test][:, cols].astype(np.float64)
        test_p = fitted.predict_test({m: preds[m].test_by_fold for m in fitted.spec.members}, tab)
        n_s, l_s = cost(list(fitted.spec.members), k)
        meta_lat = stack_meta_latency(fitted, cohort.n_classes, ctx.cfg.report.latency_repeats)
        l_all = combine([(l_s, 1.0), (meta_lat, float(k))]) if l_s else meta_lat
        rows.append(LeaderboardEntry(
            name=name, kind="best_single" if name == "best_single" else "stack",
            test_proba=test_p, dev_oof_proba=fitted.oof_, members=list(fitted.spec.members),
            n_params=n_s, latency_ms=l_all,
            notes=f"{fitted.spec.label()}; calibration {fitted.calibration_}",
            dev_auc_label=SELECTED_ON if name in (*TUNED, "best_single") else
            "meta-level out-of-fold",
            dev_estimate=nested_estimate(joint) if name == PRIMARY else None))
    return rows


def nested_estimate(joint: dict[str, Any]) -> dict[str, Any] | None:
    nested = joint.get("nested")
    if not nested:
        return None
    return {"label": "nested CV (stacking study only)", "mean": nested["mean"],
            "sd": nested["sd"], "n_folds": len(nested["fold_aucs"])}
