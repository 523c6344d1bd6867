"""A feature member through `ensembler run`: trained per fold, stacked, compared, reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ensembler.bundle.run_inputs import read_run

TINY = """
name: tiny_feat
seed: 3
data:
  source: synthetic
  synthetic: {n_patients: 48, ecgs_per_patient: [1, 2], n_test_patients: 30, duration_s: 5}
  preprocessing: {fs: 100, duration_s: 5}
split: {n_folds: 3, test: predefined}
training: {epochs: 1, batch_size: 32, crop_s: 2.5, n_jobs: 1, threads_per_job: 1}
models:
  - {name: cnn, arch: cnn1d, params: {filters: [8, 8, 8]}}
feature_members:
  - {name: feat, lightgbm: {max_rounds: 50, min_child_samples: 5}}
stacking: {trials: 4, passthrough: [age, sex], nested_cv: false}
report: {n_bootstrap: 200, latency_repeats: 3}
export: {enabled: false}
"""


@pytest.mark.slow
def test_feature_member_is_stacked_and_compared(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "ensembler.cli", "run", "tiny.yaml",
                           "--run-dir", str(run)], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run / "predictions" / "feat.npz").is_file()
    assert list((run / "features").glob("features-*/values.npy"))
    metrics = json.loads((run / "report" / "metrics.json").read_text())
    rows = {r["name"]: r for r in metrics["leaderboard"]}
    assert "feat" in rows and rows["feat"]["latency_ms"] is not None
    one = [r for r in rows.values() if r["kind"] in ("network", "feature_model")]
    assert len(one) == 1 and one[0]["name"].endswith(
        ":one_model" if one[0]["kind"] == "feature_model" else ":one_network")
    top = metrics["feature_importance"]
    assert [t["member"] for t in top] == ["feat"] and "out-of-fold" in top[0]["rows"]
    assert (run / "report" / "figures" / "top_features_feat.png").is_file()
    mean = json.loads((run / "stack" / "mean" / "stack.json").read_text())
    assert "feat" in mean["spec"]["members"]
    feat = next(m for m in read_run(run, "mean").members if m.name == "feat")
    assert feat.kind == "features" and feat.spec is None and feat.full_dir is None  # exportable
    # the report's attribution section: the feature member's pred_contrib by lead, and its
    # whole-ECG / tabular parts apart
    att = metrics["attributions"]["per_lead"]["condition"]
    assert {"stack", "cnn", "feat"} <= set(att["rows"]) and sum(att["rows"]["feat"]) > 0
    assert att["outside_leads"]["feat"]["global"] > 0
    assert set(att["outside_leads"]) >= {"stack", "feat"}
    md = (run / "report" / "report.md").read_text()
    assert "## Where the decisions come from (attributions)" in md
    assert "| feat |" in md
