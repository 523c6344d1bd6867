"""The distillation stage on a tiny synthetic run: the student's rows are on the
leaderboard, labelled optimistic, and never a best-single candidate nor a stack member;
its hard-label twin; the single-only mode; the student's bundle (torch and ONNX)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from clirun import run_cli

from ensembler.config import RunConfig
from ensembler.pipeline.compare import build_comparison
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.distill import run_distill
from ensembler.pipeline.stack import load_member_predictions, run_stacking
from ensembler.pipeline.train import run_training
from ensembler.report.metrics import compute_metrics
from ensembler.training.distill import OPTIMISTIC, SingleStudent


def _config(run_dir: Path, **distill: Any) -> RunConfig:
    return RunConfig.model_validate({
        "name": "distill-test", "seed": 3, "run_dir": str(run_dir),
        "data": {"source": "synthetic",
                 "synthetic": {"n_patients": 40, "ecgs_per_patient": [1, 2],
                               "n_test_patients": 12, "duration_s": 2.5},
                 "preprocessing": {"fs": 100, "duration_s": 2.5}},
        "split": {"n_folds": 2, "test": "predefined", "duplicate_check": "off"},
        "training": {"epochs": 1, "batch_size": 32, "crop_s": 1.0, "n_jobs": 1,
                     "backend": "sequential", "device": "cpu"},
        # cnn alone is refit on all development data (a per-member training override)
        "models": [{"name": "cnn", "arch": "cnn1d", "params": {"filters": [8, 8, 8]},
                    "training": {"refit_full": True}},
                   {"name": "cnn_b", "arch": "cnn1d", "params": {"filters": [4, 4, 4]}}],
        "stacking": {"trials": 2, "learners": ["logistic", "mean"],
                     "calibration": ["none"], "nested_cv": False},
        "report": {"n_bootstrap": 100, "latency_repeats": 3},
        "distill": {"alpha": 0.7, **distill},
    })


@pytest.fixture(scope="module")
def stacked_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Members trained and stacked once; each test distils on its own copy."""
    run_dir = tmp_path_factory.mktemp("distill") / "run"
    ctx = RunContext.create(_config(run_dir), run_dir, progress=False)
    run_training(ctx)
    run_stacking(ctx)
    return run_dir


def _ctx(stacked_run: Path, tmp_path: Path, **distill: Any) -> RunContext:
    run_dir = tmp_path / "run"
    shutil.copytree(stacked_run, run_dir)
    return RunContext.create(_config(run_dir, **distill), run_dir, progress=False)


@pytest.mark.slow
def test_student_rows_are_optimistic_and_never_selected(
        stacked_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _ctx(stacked_run, tmp_path)
    res = run_distill(ctx)  # default student: the best single member's entry
    assert res.stack == "joint_stack"
    assert isinstance(res.predictions, SingleStudent) is False
    assert res.predictions.meta.targets == "meta-level OOF of joint_stack"
    assert set(load_member_predictions(ctx)) == {"cnn", "cnn_b"}  # stacking never sees it
    inp = build_comparison(ctx)
    rows = {e.name: e for e in inp.entries if e.kind == "distilled"}
    assert set(rows) == {res.label, f"{res.label}:single"}
    assert all(e.dev_auc_label == OPTIMISTIC for e in rows.values())
    # refit-full rows: cnn has one (its own kind, one network), cnn_b has none
    refit = {e.name: e for e in inp.entries if e.kind == "refit_full"}
    assert set(refit) == {"cnn:refit_full"}
    assert refit["cnn:refit_full"].n_params == load_member_predictions(ctx)["cnn"].meta.n_params
    metrics = compute_metrics(inp, ctx.cfg.report, seed=0)
    assert metrics.best_single_check.best_fold_bag in {"cnn", "cnn_b"}
    assert metrics.rows[res.label].delta_vs_baseline is not None
    assert metrics.rows["cnn:refit_full"].delta_vs_baseline is not None
    summary = {d.name: d for d in metrics.distillation}
    assert set(summary) == set(rows) and summary[res.label].teacher == "joint_stack"
    assert summary[res.label].delta_vs_stack.delta is not None
    for e in inp.entries:
        if e.kind in ("stack", "best_single"):
            assert not any(m.startswith("distilled:") or m.endswith(":refit_full")
                           for m in e.members)
    # resumable: a current stage is reloaded (nothing trained, nothing said)
    said: list[str] = []
    monkeypatch.setattr(ctx, "say", said.append)
    again = run_distill(ctx)
    assert not said  # reloaded from the saved (float32) predictions
    assert np.allclose(again.predictions.test, res.predictions.test, atol=1e-6)
    assert again.twins == res.twins
    record = json.loads((ctx.run_dir / "distill" / "stage.json").read_text())
    assert record["stage"] == "distillation" and record["student"] == res.student
    assert {"stacking", "student", "distill settings"} <= set(record["inputs"])
    # one setting changed: the Stage says why it reruns
    ctx.cfg = ctx.cfg.model_copy(update={"distill": ctx.cfg.distill.model_copy(  # type: ignore[union-attr]
        update={"alpha": 0.5})})
    run_distill(ctx)
    assert said == ["distillation: rerunning (changed: distill settings)"]


@pytest.mark.slow
def test_member_twin_and_trained_twin(stacked_run: Path, tmp_path: Path) -> None:
    """Student cnn: the member cnn (same spec) is its twin, its refit-full model the single
    student's; with hard_twin: always the twin is trained (same seeds, alpha 0)."""
    ctx = _ctx(stacked_run, tmp_path, student="cnn")
    res = run_distill(ctx)
    assert res.twin is None and not (ctx.run_dir / "distill" / "hard_twins").exists()
    assert {k: v.row for k, v in res.twins.items()} == {
        "distilled:cnn": "cnn", "distilled:cnn:single": "cnn:refit_full"}
    metrics = compute_metrics(build_comparison(ctx), ctx.cfg.report, seed=0).to_json_dict()
    summary = {d["name"]: d for d in metrics["distillation"]}
    d = summary["distilled:cnn"]["delta_vs_hard_twin"]
    assert d["lo"] <= d["delta"] <= d["hi"]
    assert "the same network trained on hard labels (member `cnn`, which has the " \
        "student's spec)" in summary["distilled:cnn"]["twin_sentence"]

    ctx = _ctx(stacked_run, tmp_path / "always", student="cnn", hard_twin="always")
    res = run_distill(ctx)
    assert res.twin is not None and res.twin.meta.targets == "hard labels only (alpha 0)"
    assert res.twin.meta.seeds == res.predictions.meta.seeds  # only targets differ
    assert res.twins["distilled:cnn"].row == "hard_twin:cnn"
    inp = build_comparison(ctx)
    kinds = {e.name: e.kind for e in inp.entries}
    assert kinds["hard_twin:cnn"] == kinds["hard_twin:cnn:single"] == "hard_twin"
    metrics = compute_metrics(inp, ctx.cfg.report, seed=0).to_json_dict()
    board = {r["name"]: r for r in metrics["leaderboard"]}
    assert board["hard_twin:cnn"]["dev_oof_auc_label"] == "out-of-fold"
    summary = {d["name"]: d for d in metrics["distillation"]}
    assert summary["distilled:cnn:single"]["hard_twin"]["row"] == "hard_twin:cnn:single"

    # student cnn_b: its member has no refit-full model, so the single student has no twin
    ctx = _ctx(stacked_run, tmp_path / "b", student="cnn_b")
    res = run_distill(ctx)
    assert res.twins["distilled:cnn_b"].row == "cnn_b"
    assert res.twins["distilled:cnn_b:single"].row is None
    assert "no refit-full model" in res.twins["distilled:cnn_b:single"].source


@pytest.mark.slow
def test_single_only_student_trains_one_network_and_ships(stacked_run: Path,
                                                          tmp_path: Path) -> None:
    """fold_students: false trains only the single student (epochs: the twin member's
    median best epoch); no fold-bag row; it exports (refit-full) with parity."""
    from ensembler.bundle import load_bundle, read_verified
    from ensembler.bundle.export import export_bundle

    ctx = _ctx(stacked_run, tmp_path, student="cnn", fold_students=False)
    res = run_distill(ctx)
    assert isinstance(res.predictions, SingleStudent)
    students = ctx.run_dir / "distill" / "students" / "cnn"
    assert sorted(p.name for p in students.iterdir()) == ["full"]
    member = load_member_predictions(ctx)["cnn"]
    assert res.predictions.meta.epochs == max(1, int(np.median(member.meta.best_epoch)))
    inp = build_comparison(ctx)
    assert [e.name for e in inp.entries if e.kind == "distilled"] == ["distilled:cnn:single"]
    exp = export_bundle(ctx.run_dir, tmp_path / "bundle", stack="distilled:cnn",
                        cohort=ctx.cohort, onnx=False, zip=False, latency_repeats=1)
    assert exp.manifest["members"]["mode"] == "refit-full"
    read_verified(tmp_path / "bundle")
    test = np.flatnonzero(ctx.split.fold == -1)
    got = load_bundle(tmp_path / "bundle").predict_proba(
        np.asarray(ctx.cohort.signals[test], np.float32))
    assert np.max(np.abs(got - res.predictions.test)) <= 1e-5


@pytest.mark.slow
def test_distilled_bundle_round_trip(stacked_run: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """export --stack distilled:<student> (with ONNX) -> verify -> predict equals the run's
    test predictions of the student (<= 1e-5), through torch and through ONNX Runtime
    (`ensembler predict --backend onnx` on the WFDB records); provenance names the
    teacher's meta-level OOF."""
    from ensembler.bundle import load_bundle, read_verified
    from ensembler.bundle.export import export_bundle
    from ensembler.pipeline.compare import run_compare

    ctx = _ctx(stacked_run, tmp_path, student="cnn")
    res = run_distill(ctx)
    run_compare(ctx)
    test = np.flatnonzero(ctx.split.fold == -1)
    x = np.asarray(ctx.cohort.signals[test], np.float32)
    assert not isinstance(res.predictions, SingleStudent)
    for members, ref in (("fold-average", res.predictions.test),
                         ("refit-full", res.predictions.test_refit)):
        out = tmp_path / f"bundle-{members}"
        exp = export_bundle(ctx.run_dir, out, stack=res.label, members=members,
                            cohort=ctx.cohort, onnx=True, zip=False, latency_repeats=1)
        read_verified(out)
        manifest = exp.manifest
        assert manifest["provenance"]["targets"] == "meta-level OOF of joint_stack"
        assert [m["name"] for m in manifest["members"]["list"]] == ["distilled_cnn"]
        assert manifest["conformal"] is None  # optimistic OOF: no sets
        got = load_bundle(out).predict_proba(x)
        assert np.max(np.abs(got - np.asarray(ref))) <= 1e-5
        onnx = load_bundle(out, backend="onnx").predict_proba(x)
        assert np.max(np.abs(onnx - got)) <= 1e-5
        assert manifest["onnx"]["ensemble_max_abs_diff"] <= 1e-5
        assert (out / "MODEL_CARD.md").is_file()
    # the CLI on the fold-average bundle: verify, then predict the raw test records via ONNX
    bundle = tmp_path / "bundle-fold-average"
    record_dir = sorted((ctx.run_dir / "cohort" / "synthetic").iterdir())[0]
    ids = [str(r) for r in ctx.cohort.record_id[test]]
    listing = pd.read_csv(record_dir / "manifest.csv", dtype=str)
    csv = record_dir / "test_records.csv"
    listing[listing["record"].isin(ids)].to_csv(csv, index=False)
    assert run_cli(monkeypatch, "verify", str(bundle)) == 0
    out = tmp_path / "preds.csv"
    assert run_cli(monkeypatch, "predict", str(bundle), str(csv), "--backend", "onnx",
                   "--out", str(out)) == 0
    scored = pd.read_csv(out, dtype={"record": str}).set_index("record").loc[ids]
    probs = scored[[c for c in scored.columns if c.startswith("prob_")]].to_numpy()
    assert np.max(np.abs(probs - res.predictions.test)) <= 1e-5
