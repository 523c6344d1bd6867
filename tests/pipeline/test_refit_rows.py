"""Refit-full rows: one ``<member>:refit_full`` row per member with a refit-full model, its
own kind, scored from the refit model's test predictions; never a best-single candidate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ensembler.config import ReportConfig
from ensembler.evaluation import LatencyStats
from ensembler.pipeline.rows import REFIT_FULL, RowCosts, fold_bag_rows, refit_full_rows
from ensembler.report import ComparisonInput, LeaderboardEntry
from ensembler.report.metrics import compute_metrics
from ensembler.report.schema import BestSingleCheck
from ensembler.training.member_meta import MemberMeta
from ensembler.training.predictions import MemberPredictions


def _preds(name: str, rng: np.random.Generator, y_dev: np.ndarray, y_test: np.ndarray,
           strength: float, refit: float | None) -> MemberPredictions:
    def p(y: np.ndarray, s: float) -> np.ndarray:
        return 1 / (1 + np.exp(-(s * (y - 0.5) + rng.normal(size=y.shape))))

    k = 2
    return MemberPredictions(
        name=name, oof=p(y_dev, strength), test_by_fold=np.stack([p(y_test, strength)] * k),
        dev_record_id=np.array([f"d{i}" for i in range(len(y_dev))]),
        test_record_id=np.array([f"t{i}" for i in range(len(y_test))]),
        fold=np.arange(len(y_dev)) % k, class_names=["COND"],
        test_refit=None if refit is None else p(y_test, refit),
        meta=MemberMeta(member=name, n_params=100))


def _lat(ms: float) -> dict[int, LatencyStats]:
    return {1: LatencyStats(1, ms, ms, 3), 64: LatencyStats(64, ms / 8, ms / 8, 3)}


def test_refit_full_rows_are_single_networks_and_never_best_single_candidates(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    g_dev, g_test = np.repeat(np.arange(100), 2), np.repeat(np.arange(500, 600), 2)
    y_dev = (rng.random((200, 1)) < 0.4).astype(np.uint8)
    y_test = (rng.random((200, 1)) < 0.4).astype(np.uint8)
    # "plain" has a refit-full model far better on test than any fold bag: it must still
    # be a row of its own kind only, never the best single model
    preds = {"plain": _preds("plain", rng, y_dev, y_test, 1.0, refit=6.0),
             "cnn": _preds("cnn", rng, y_dev, y_test, 2.0, refit=None)}
    cost = RowCosts(params={"plain": 100, "cnn": 100},
                    latency={"plain": _lat(2.0), "cnn": _lat(3.0)})
    refit = refit_full_rows(preds, cost)
    assert [r.name for r in refit] == ["plain:refit_full"]
    row = refit[0]
    assert row.kind == "refit_full" and row.members == ["plain"]
    assert row.test_proba is preds["plain"].test_refit
    assert row.n_params == 100 and row.latency_ms is not None  # one network, not K
    assert row.latency_ms[1].p50_ms == 2.0
    assert row.dev_auc_label == REFIT_FULL
    bags = fold_bag_rows(preds, cost, k=2)
    best = LeaderboardEntry(name="best_single", kind="best_single",
                            test_proba=preds["cnn"].test, dev_oof_proba=preds["cnn"].oof,
                            members=["cnn"])
    inp = ComparisonInput(class_names=["COND"], y_test=y_test, groups_test=g_test,
                          y_dev=y_dev, groups_dev=g_dev, entries=[*bags, best, *refit],
                          primary=None)
    m = compute_metrics(inp, ReportConfig(n_bootstrap=100, subgroups=[]), seed=0)
    board = m.rows
    assert m.leaderboard[0].kind == "refit_full"  # first: one network
    delta = board["plain:refit_full"].delta_vs_baseline
    assert delta is not None and delta.delta is not None and delta.delta > 0
    assert board["plain:refit_full"].test_auc.lo is not None
    assert m.best_single_check == BestSingleCheck(
        dev_oof_auc=board["best_single"].dev_oof_auc, best_fold_bag="cnn", consistent=True)
