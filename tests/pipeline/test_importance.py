"""Per-class top features of feature members over development OOF rows: the numbers are
the models' own contributions, the planted feature ranks first, and the report plots them."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.special import logit
from toydata import make_cohort, make_split

from ensembler.config import ReportConfig, RunConfig
from ensembler.pipeline.importance import contributions, member_importance
from ensembler.report import ComparisonInput, LeaderboardEntry, build_report
from ensembler.report.schema import FeatureRank, read_metrics
from ensembler.training.feature_learners import read_learner
from ensembler.training.feature_member import member_inputs, train_feature_member


@pytest.fixture(scope="module", params=["lightgbm", "logistic"])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    run_dir = tmp_path_factory.mktemp(f"imp_{request.param}")
    cohort = make_cohort(n_patients=40, per_patient=2)  # label = a 5 Hz burst in lead I
    split = make_split(cohort, k=3, test_patients=8)
    cfg = RunConfig.model_validate({"seed": 2, "feature_members": [
        {"name": "feat", "learner": request.param,
         "lightgbm": {"max_rounds": 40, "min_child_samples": 5}}]})
    preds = train_feature_member(cfg.feature_members[0], cfg, cohort, split.fold,
                                 split.fingerprint, run_dir, ["age", "sex"])
    ctx = SimpleNamespace(cfg=cfg, cohort=cohort, run_dir=run_dir, split=split)
    return ctx, preds, request.param


def test_contributions_add_up_to_the_models_log_odds(trained) -> None:  # type: ignore[no-untyped-def]
    ctx, _preds, learner = trained
    entry = ctx.cfg.feature_members[0]
    _, x, _ = member_inputs(entry, ctx.cohort, ctx.run_dir, ["age", "sex"])
    folder = ctx.run_dir / "base" / "feat" / "fold_1"
    model = read_learner(folder, learner, x.shape[1], 1)
    with np.load(folder / "preds.npz") as z:
        rows, oof = z["oof_rows"], z["oof"]
    contrib = contributions(model, x[rows])  # (C, N, F)
    if learner == "lightgbm":
        b = model.boosters[0]  # type: ignore[union-attr]
        bias = b.predict(x[rows], pred_contrib=True)[:, -1]
    else:
        bias = model.intercept[0]  # type: ignore[union-attr]
    got = contrib[0].sum(axis=1) + bias
    want = logit(np.clip(oof[:, 0].astype(np.float64), 1e-6, 1 - 1e-6))
    assert np.allclose(got, want, atol=2e-4)


def test_top_features_over_development_oof(trained) -> None:  # type: ignore[no-untyped-def]
    ctx, preds, learner = trained
    fi = member_importance(ctx, ctx.cfg.feature_members[0], preds, top_k=5)  # type: ignore[arg-type]
    assert fi.n_rows == int((ctx.split.fold >= 0).sum()) and "out-of-fold" in fi.rows
    ranks = fi.per_class["COND"]
    assert len(ranks) == 5
    values = [r.mean_abs_contribution for r in ranks]
    assert values == sorted(values, reverse=True) and values[0] > 0
    assert 0 < sum(r.contribution_share for r in ranks) <= 1 + 1e-9
    assert ranks[0].feature.startswith("I:")  # the burst is planted in lead I
    if learner == "lightgbm":
        assert ranks[0].gain is not None and 0 < (ranks[0].gain_share or 0) <= 1
    else:
        assert all(r.gain is None for r in ranks)

    # into metrics.json and the report, as a figure and a table
    test = ctx.split.fold == -1
    row = LeaderboardEntry(name="feat", kind="fold_bag", test_proba=preds.test,
                           dev_oof_proba=preds.oof, members=["feat"])
    inp = ComparisonInput(class_names=["COND"], y_test=ctx.cohort.labels[test],
                          groups_test=ctx.cohort.patient_id[test],
                          y_dev=ctx.cohort.labels[~test], groups_dev=ctx.cohort.patient_id[~test],
                          entries=[row], primary=None, baseline="feat", feature_importance=[fi])
    out = ctx.run_dir / "report"
    build_report(inp, out, ReportConfig(n_bootstrap=100, subgroups=[]), seed=0)
    block = json.loads((out / "metrics.json").read_text())["feature_importance"]
    typed = read_metrics(out / "metrics.json").feature_importance
    assert typed == [fi] and isinstance(typed[0].per_class["COND"][0], FeatureRank)
    assert block[0]["member"] == "feat" and block[0]["learner"] == learner
    assert block[0]["per_class"]["COND"][0]["feature"] == ranks[0].feature
    png = out / "figures" / "top_features_feat.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Feature members: top features" in (out / "report.md").read_text()


def test_no_feature_member_no_section(tmp_path: Path) -> None:
    cohort = make_cohort(n_patients=30, per_patient=1)
    split = make_split(cohort, k=2, test_patients=10)
    test = split.fold == -1
    p = np.full((int(test.sum()), 1), 0.5)
    inp = ComparisonInput(class_names=["COND"], y_test=cohort.labels[test],
                          groups_test=cohort.patient_id[test], y_dev=cohort.labels[~test],
                          groups_dev=cohort.patient_id[~test],
                          entries=[LeaderboardEntry(name="a", kind="fold_bag", test_proba=p)],
                          primary=None, baseline="a")
    build_report(inp, tmp_path / "r", ReportConfig(n_bootstrap=100, subgroups=[]), seed=0)
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["feature_importance"] == []
    assert "top features" not in (tmp_path / "r" / "report.md").read_text()
