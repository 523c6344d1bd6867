"""Run the ``ensembler`` CLI in-process and return its exit code (shared by the CLI tests).

Imported by tests as ``from clirun import run_cli`` (pytest puts tests/ on sys.path)."""

from __future__ import annotations

import sys

import pytest

from ensembler.cli.main import main

#: seed, data, split and training of a tiny synthetic run for the CLI tuning tests (60
#: patients, 2 folds, 1 epoch); a test's YAML is ``name:`` + this + its models and tuning
TINY_TUNING_RUN = """seed: 5
data:
  source: synthetic
  synthetic: {n_patients: 60, ecgs_per_patient: [1, 1], n_test_patients: 20, duration_s: 5}
  preprocessing: {fs: 100, duration_s: 5}
split: {n_folds: 2, test: predefined}
training: {epochs: 1, batch_size: 16, crop_s: 2.5, n_jobs: 1, threads_per_job: 1}
"""


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """``ensembler ARGS...`` as the console would run it; the exit code (0 on return)."""
    monkeypatch.setattr(sys, "argv", ["ensembler", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
