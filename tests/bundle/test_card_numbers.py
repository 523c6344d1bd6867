"""The numbers a bundle states about itself are labelled for what they are (issue 13).

- a tuned stack's development estimate is its nested CV, the selection score is
  labelled optimistic;
- a refit-full bundle's headline is measured on the refit-full models it ships.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ensembler.bundle import export_bundle
from ensembler.bundle.estimates import INNER_LABEL, development_estimate
from ensembler.bundle.run_inputs import pipeline_test_predictions, read_run
from ensembler.config import RunConfig
from ensembler.evaluation import roc_auc
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.stack import run_stacking
from ensembler.pipeline.train import run_training


def test_refit_full_headline_is_measured_on_the_refit_models(tiny_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = export_bundle(tiny_run.run_dir, tmp_path / "b", cohort=tiny_run.cohort,
                        members="refit-full", onnx=False, zip=False, latency_repeats=1)
    m = res.manifest["metrics"]
    assert m["status"] == "evaluated" and m["mode"] == "refit-full"
    inp = read_run(tiny_run.run_dir)
    y = tiny_run.cohort.labels[tiny_run.test_rows]
    refit = pipeline_test_predictions(inp, None, "refit-full")
    point = m["stack"]["test_auc"]["point"]
    assert point == pytest.approx(roc_auc(y, refit).macro)
    assert point != pytest.approx(roc_auc(y, tiny_run.stacked_test).macro)
    assert m["stack"]["test_auc"]["lo"] <= point <= m["stack"]["test_auc"]["hi"]
    op = m["stack"]["operating_point"]["per_class"][0]
    assert op["threshold"] == pytest.approx(res.manifest["operating"]["thresholds"][0])
    card = (res.path / "MODEL_CARD.md").read_text()
    assert "refit-full models' own stacked test predictions" in card
    assert "fold models' stack: its meta-level out-of-fold predictions" in card


def test_card_without_nested_cv_has_no_development_estimate(tiny_run) -> None:  # type: ignore[no-untyped-def]
    tuned = development_estimate(read_run(tiny_run.run_dir))  # joint_stack, nested_cv off
    assert tuned.kind == "none" and tuned.inner_cv_label == INNER_LABEL
    fixed = development_estimate(read_run(tiny_run.run_dir, "mean"))  # a fixed recipe
    assert fixed.kind == "meta_oof" and fixed.inner_cv_auc is None


@pytest.mark.slow
def test_card_shows_the_nested_estimate(tmp_path: Path) -> None:
    """A quickstart-like run (tuned joint stack, nested CV on): the card's development
    estimate is the nested CV of stack/study.json, the inner best is labelled optimistic."""
    run_dir = tmp_path / "run"
    cfg = RunConfig.model_validate({
        "name": "nested-card", "seed": 5, "run_dir": str(run_dir),
        "data": {"source": "synthetic",
                 "synthetic": {"n_patients": 36, "ecgs_per_patient": [1, 2],
                               "n_test_patients": 12, "duration_s": 2.5},
                 "preprocessing": {"fs": 100, "duration_s": 2.5}},
        "split": {"n_folds": 3, "test": "predefined", "duplicate_check": "off"},
        "training": {"epochs": 1, "batch_size": 32, "crop_s": 1.0, "n_jobs": 1,
                     "backend": "sequential", "device": "cpu"},
        "models": [{"name": "a", "arch": "cnn1d", "params": {"filters": [4, 4, 4]}},
                   {"name": "b", "arch": "cnn1d", "params": {"filters": [6, 6, 6]}}],
        "stacking": {"trials": 3, "learners": ["logistic", "mean"],
                     "calibration": ["none"], "nested_cv": True},
        "report": {"n_bootstrap": 100, "latency_repeats": 3},
    })
    ctx = RunContext.create(cfg, run_dir, progress=False)
    run_training(ctx)
    run_stacking(ctx)
    nested = json.loads((run_dir / "stack" / "study.json").read_text())["joint_stack"]["nested"]
    res = export_bundle(run_dir, tmp_path / "b", cohort=ctx.cohort, onnx=False, zip=False,
                        latency_repeats=1)
    est = res.manifest["stack"]["development_estimate"]
    assert est["kind"] == "nested_cv" and est["mean"] == nested["mean"]
    assert est["fold_aucs"] == nested["fold_aucs"]
    card = (res.path / "MODEL_CARD.md").read_text()
    assert (f"Development estimate (macro AUC): {nested['mean']:.3f} ± {nested['sd']:.3f} — "
            "nested CV over the stacking study") in card
    assert f"{est['inner_cv_auc']:.3f} — {INNER_LABEL}" in card
    assert np.isfinite(est["inner_cv_auc"])
