"""`ensembler run` end to end on a tiny synthetic cohort, then resumed; CLI error paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TINY = """
name: tiny
seed: 3
data:
  source: synthetic
  synthetic: {n_patients: 48, ecgs_per_patient: [1, 2], n_test_patients: 30, duration_s: 5}
  preprocessing: {fs: 100, duration_s: 5}
split: {n_folds: 3, test: predefined}
training: {epochs: 1, batch_size: 32, crop_s: 2.5, n_jobs: 1, threads_per_job: 1}
models:
  - {name: cnn, arch: cnn1d, params: {filters: [8, 8, 8]}}
  - {name: lstm_tab, arch: cnn_lstm, params: {conv_channels: [8, 8, 8], hidden: 8},
     fusion: late}
tuning: {enabled: true, archs: [cnn], trials: 2, epochs: 1, n_startup_trials: 1}
stacking: {trials: 4, passthrough: [age, sex], nested_cv: false}
report: {n_bootstrap: 200, latency_repeats: 3, data_efficiency: [cnn],
         data_efficiency_fractions: [0.5, 1.0]}
export: {enabled: true}
"""


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ensembler.cli", *args], cwd=cwd,
                          capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=900)


@pytest.mark.slow
def test_run_end_to_end_then_resume(tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    first = _cli("run", str(cfg), "--run-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:] + first.stdout[-3000:]
    run = tmp_path / "run"
    for path in ("config.resolved.yaml", "split.json", "predictions/cnn.npz",
                 "predictions/lstm_tab.npz", "stack/selected.json", "report/report.html",
                 "report/metrics.json", "bundle/manifest.json", "bundle/MODEL_CARD.md",
                 "hpo/fairness.json", "efficiency/data_efficiency.csv",
                 "report/figures/data_efficiency.png"):
        assert (run / path).exists(), path
    parity = json.loads((run / "bundle_parity.json").read_text())
    assert parity["ok"] and parity["max_abs_diff"] <= 1e-5 and parity["n_records"] > 30
    metrics = json.loads((run / "report/metrics.json").read_text())
    names = {r["name"] for r in metrics["leaderboard"]}
    assert {"cnn", "lstm_tab", "best_single", "joint_stack", "mean", "greedy"} <= names
    assert metrics["primary"]["a"] == "joint_stack" and metrics["primary"]["b"] == "best_single"
    # issue 13: labels, test reads and the fairness sentence come from what happened
    rows = {r["name"]: r for r in metrics["leaderboard"]}
    for name in ("best_single", "joint_stack", "tuned_logistic"):
        assert rows[name]["dev_oof_auc_label"] == "selected on (optimistic)", name
    assert rows["mean"]["dev_oof_auc_label"] == "meta-level out-of-fold"
    one = next(r for n, r in rows.items() if n.endswith(":one_network"))
    assert one["dev_oof_auc_label"].startswith("the fold bag's OOF")
    reads = [r["stage"] for r in metrics["test_set_reads"]["stages"]]
    assert reads == ["comparison report", "data efficiency", "oracle AUC", "attributions",
                     "bundle export"]
    assert metrics["test_set_reads"]["informed_a_choice"] == []
    report_md = (run / "report/report.md").read_text()
    assert "Not tuned (0 trials, under-tuned; configured hyper-parameters): lstm_tab" in report_md
    assert "| lstm_tab | not tuned | 0 |" in report_md
    assert "Summary" in first.stdout and "Primary comparison" in first.stdout
    # issue 15: the diversity panel (nested CV is off here: the panel runs its own reference)
    div = metrics["diversity"]
    assert [r["member"] for r in div["drop_one"]["rows"]] == ["cnn", "lstm_tab"]
    assert div["drop_one"]["n_trials"] == div["drop_one"]["stacking_trials"] == 4
    assert div["sentence"] in report_md and "report/figures/diversity.png" in {
        f"report/{f}" for f in metrics["figures"]}
    assert (run / "diversity/diversity.json").is_file()

    jobs = {p: f.stat().st_mtime_ns for p, f in _files(run, "base").items()}
    predictions = {p: _content(f) for p, f in _files(run, "predictions").items()}
    second = _cli("run", str(cfg), "--run-dir", str(run), cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    # finished (member, fold) jobs are reused, not redone: none of their files was rewritten
    assert {p: f.stat().st_mtime_ns for p, f in _files(run, "base").items()} == jobs
    # the level-1 predictions are re-assembled from them, with the same content
    assert {p: _content(f) for p, f in _files(run, "predictions").items()} == predictions
    assert "rerunning" not in second.stdout  # every stage current

    # one changed parameter: only what depends on it reruns, and each says why
    cfg.write_text(TINY.replace("n_bootstrap: 200", "n_bootstrap: 150"))
    third = _cli("run", str(cfg), "--run-dir", str(run), cwd=tmp_path)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "diversity: rerunning (changed: n_bootstrap)" in third.stdout  # its CIs
    assert "comparison: rerunning (changed: report config, diversity)" in third.stdout
    assert "export: rerunning (changed: comparison)" in third.stdout
    reran = [ln.split(":")[0] for ln in third.stdout.splitlines() if "rerunning" in ln]
    assert reran == ["diversity", "comparison", "export"], reran
    assert {p: f.stat().st_mtime_ns for p, f in _files(run, "base").items()} == jobs


def _content(path: Path) -> object:
    """A file's content: the arrays of an .npz (its zip entries carry timestamps), else bytes."""
    if path.suffix != ".npz":
        return path.read_bytes()
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k].tobytes() + str(z[k].dtype).encode() for k in z.files}


def _files(run: Path, folder: str) -> dict[str, Path]:
    files = {str(p.relative_to(run)): p for p in sorted((run / folder).rglob("*")) if p.is_file()}
    assert files, folder
    return files


@pytest.mark.slow
def test_bad_config_exits_nonzero_without_output(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(TINY.replace("arch: cnn1d", "arch: cnn9000"))
    res = _cli("run", str(cfg), "--run-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert res.returncode == 2
    assert "models[0].arch" in res.stderr and "cnn9000" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_compare_before_training_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    res = _cli("stack", str(cfg), "--run-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert res.returncode == 2
    assert "run `ensembler train` first" in res.stderr
