"""The best single's one-model row is named and kinded by what the member is, and a feature
member's one model carries the feature computation in its latency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from toydata import make_cohort, make_split

from ensembler.config import ReportConfig, RunConfig
from ensembler.pipeline.latency import member_latency
from ensembler.pipeline.rows import RowCosts, single_model_row
from ensembler.report import ComparisonInput, LeaderboardEntry
from ensembler.report.metrics import compute_metrics
from ensembler.training.feature_member import train_feature_member


def test_feature_member_one_model_row(tmp_path: Path) -> None:
    cohort = make_cohort(n_patients=30, per_patient=2)
    split = make_split(cohort, k=2, test_patients=8)
    cfg = RunConfig.model_validate({"seed": 1, "feature_members": [
        {"name": "feat", "lightgbm": {"max_rounds": 20, "min_child_samples": 5}}]})
    preds = train_feature_member(cfg.feature_members[0], cfg, cohort, split.fold,
                                 split.fingerprint, tmp_path, [])
    lat = member_latency(tmp_path, preds.meta, 12, cohort.signals.shape[2], 1, cohort.fs, 2)
    assert lat is not None
    row = single_model_row("feat", preds, RowCosts({"feat": 10}, {"feat": lat}))
    assert (row.name, row.kind) == ("feat:one_model", "feature_model")
    feature_ms = preds.meta.feature_cpu_ms_per_ecg or 0.0
    assert feature_ms > 0
    assert row.latency_ms is not None and row.latency_ms[1].p50_ms > feature_ms
    assert row.dev_auc_label is not None and "single model" in row.dev_auc_label

    # a fold bag of K feature models computes the features once, not K times
    learner = member_latency(tmp_path, preds.meta, 12, cohort.signals.shape[2], 1, cohort.fs, 2,
                             features=False)
    assert learner is not None and learner[1].p50_ms < lat[1].p50_ms
    costs = RowCosts({"feat": 10}, {"feat": learner}, {"feat": feature_ms})
    _, bag_lat = costs(["feat"], 2)
    _, one_lat = costs(["feat"], 1)
    assert bag_lat[1].p50_ms == pytest.approx(2 * learner[1].p50_ms + feature_ms)
    assert one_lat[1].p50_ms == pytest.approx(learner[1].p50_ms + feature_ms)

    # the report accepts the kind and orders it with the one-model rows, before the bags
    test = split.fold == -1
    bag = LeaderboardEntry(name="feat", kind="fold_bag", test_proba=preds.test,
                           dev_oof_proba=preds.oof, members=["feat"])
    inp = ComparisonInput(class_names=["COND"], y_test=cohort.labels[test],
                          groups_test=cohort.patient_id[test], y_dev=cohort.labels[~test],
                          groups_dev=cohort.patient_id[~test], entries=[bag, row],
                          primary=("feat", "feat:one_model"), baseline="feat")
    metrics = compute_metrics(inp, ReportConfig(n_bootstrap=100), seed=0)
    kinds = [(r.name, r.kind) for r in metrics.leaderboard]
    assert kinds == [("feat:one_model", "feature_model"), ("feat", "fold_bag")]
    one = metrics.leaderboard[0].latency(1)
    assert one is not None and np.isfinite(one.p50_ms)


def test_network_and_external_kinds() -> None:
    from ensembler.pipeline.rows import one_model_kind
    from ensembler.training.member_meta import MemberMeta

    def meta(**doc: str) -> MemberMeta:
        return MemberMeta.from_json_dict({"member": "m", **doc}, "m.json")

    assert one_model_kind(meta(kind="network")) == ("one_network", "network")
    assert one_model_kind(meta()) == ("one_network", "network")
    assert one_model_kind(meta(external="preds.npz")) == ("one_model", "external_model")
