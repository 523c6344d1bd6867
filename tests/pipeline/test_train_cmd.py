"""`ensembler train` shows development numbers only (fold and OOF AUCs, never test AUCs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ensembler.cli.main import cli

CONFIG = """
name: train-cmd
seed: 1
data:
  source: synthetic
  synthetic: {n_patients: 24, ecgs_per_patient: [1, 2], n_test_patients: 12, duration_s: 2.5}
  preprocessing: {fs: 100, duration_s: 2.5}
split: {n_folds: 2, test: predefined, duplicate_check: "off"}
training: {epochs: 1, batch_size: 32, crop_s: 1.0, n_jobs: 1, backend: sequential,
           threads_per_job: 1, device: cpu}
models:
  - {name: cnn, arch: cnn1d, params: {filters: [4, 4, 4]}}
"""


@pytest.mark.slow
def test_train_prints_no_test_auc(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    res = CliRunner().invoke(cli, ["train", str(cfg), "--run-dir", str(tmp_path / "run")],
                             terminal_width=200)
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "OOF AUC" in out and "fold AUCs" in out
    assert "test" not in out.lower()
