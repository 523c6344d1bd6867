"""The distillation stage on a tiny synthetic run: the student's rows are on the
leaderboard, labelled optimistic, and never a best-single candidate nor a stack member."""

from __future__ import annotations

from pathlib import Path

import pytest

from ensembler.config import RunConfig
from ensembler.pipeline.compare import build_comparison
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.distill import run_distill
from ensembler.pipeline.stack import load_member_predictions, run_stacking
from ensembler.pipeline.train import run_training
from ensembler.report.metrics import compute_metrics
from ensembler.training.distill import OPTIMISTIC


def _config(run_dir: Path) -> RunConfig:
    return RunConfig.model_validate({
        "name": "distill-test", "seed": 3, "run_dir": str(run_dir),
        "data": {"source": "synthetic",
                 "synthetic": {"n_patients": 40, "ecgs_per_patient": [1, 2],
                               "n_test_patients": 12, "duration_s": 2.5},
                 "preprocessing": {"fs": 100, "duration_s": 2.5}},
        "split": {"n_folds": 2, "test": "predefined", "duplicate_check": "off"},
        "training": {"epochs": 1, "batch_size": 32, "crop_s": 1.0, "n_jobs": 1,
                     "backend": "sequential", "device": "cpu"},
        "models": [{"name": "cnn", "arch": "cnn1d", "params": {"filters": [8, 8, 8]}},
                   {"name": "cnn_b", "arch": "cnn1d", "params": {"filters": [4, 4, 4]}}],
        "stacking": {"trials": 2, "learners": ["logistic", "mean"],
                     "calibration": ["none"], "nested_cv": False},
        "report": {"n_bootstrap": 100, "latency_repeats": 3},
        "distill": {"alpha": 0.7},
    })


@pytest.mark.slow
def test_student_rows_are_optimistic_and_never_selected(tmp_path: Path) -> None:
    cfg = _config(tmp_path / "run")
    ctx = RunContext.create(cfg, tmp_path / "run", progress=False)
    run_training(ctx)
    run_stacking(ctx)
    res = run_distill(ctx)  # default student: the best single member's entry
    assert res.stack == "joint_stack"
    assert res.predictions.meta["targets"] == "meta-level OOF of joint_stack"
    assert set(load_member_predictions(ctx)) == {"cnn", "cnn_b"}  # stacking never sees it
    inp = build_comparison(ctx)
    rows = {e.name: e for e in inp.entries if e.kind == "distilled"}
    assert set(rows) == {res.label, f"{res.label}:single"}
    assert all(e.dev_auc_label == OPTIMISTIC for e in rows.values())
    metrics = compute_metrics(inp, cfg.report, seed=0)
    assert metrics["best_single_check"]["best_fold_bag"] in {"cnn", "cnn_b"}
    board = {r["name"]: r for r in metrics["leaderboard"]}
    assert board[res.label]["delta_vs_baseline"] is not None
    summary = {d["name"]: d for d in metrics["distillation"]}
    assert set(summary) == set(rows) and summary[res.label]["teacher"] == "joint_stack"
    assert "delta" in summary[res.label]["delta_vs_stack"]
    for e in inp.entries:
        if e.kind == "stack":
            assert not any(m.startswith("distilled:") for m in e.members)
    # resumable: a second call trains nothing and gives the same predictions
    again = run_distill(ctx)
    assert (again.predictions.test == res.predictions.test).all()


@pytest.mark.slow
def test_distilled_bundle_round_trip(tmp_path: Path) -> None:
    """export --stack distilled:<student> -> verify -> predict equals the run's test
    predictions of the student (<= 1e-5), provenance names the teacher's meta-level OOF."""
    import numpy as np

    from ensembler.bundle import load_bundle, read_verified
    from ensembler.bundle.export import export_bundle
    from ensembler.pipeline.compare import run_compare

    cfg = _config(tmp_path / "run")
    ctx = RunContext.create(cfg, tmp_path / "run", progress=False)
    run_training(ctx)
    run_stacking(ctx)
    res = run_distill(ctx, student="cnn")
    run_compare(ctx)
    for members, ref in (("fold-average", res.predictions.test),
                         ("refit-full", res.predictions.test_refit)):
        out = tmp_path / f"bundle-{members}"
        exp = export_bundle(ctx.run_dir, out, stack=res.label, members=members,
                            cohort=ctx.cohort)
        read_verified(out)
        manifest = exp.manifest
        assert manifest["provenance"]["targets"] == "meta-level OOF of joint_stack"
        assert [m["name"] for m in manifest["members"]["list"]] == ["distilled_cnn"]
        assert manifest["conformal"] is None  # optimistic OOF: no sets
        bundle = load_bundle(out)
        test = np.flatnonzero(ctx.split.fold == -1)
        got = bundle.predict_proba(np.asarray(ctx.cohort.signals[test], np.float32))
        assert np.max(np.abs(got - np.asarray(ref))) <= 1e-5
        assert (out / "MODEL_CARD.md").is_file()
