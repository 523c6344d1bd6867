"""Several ``ensembler tune`` workers share one PostgreSQL study; a killed worker's trial
ends FAIL through the heartbeat and is retried by the next worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).parent))

from pg_server import PostgresUnavailable, postgres_server

from ensembler.config import load_config
from ensembler.pipeline.context import RunContext
from ensembler.tuning.storage import open_storage

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CONFIG = {
    "name": "pg-tune", "seed": 5,
    "data": {"source": "synthetic",
             "synthetic": {"n_patients": 40, "ecgs_per_patient": [1, 1], "duration_s": 2.5},
             "preprocessing": {"duration_s": 2.5}},
    "split": {"n_folds": 3, "test_fraction": 0.2},
    "training": {"epochs": 2, "batch_size": 16, "crop_s": 1.0, "patience": 2,
                 "inner_val_fraction": 0.25, "n_jobs": 1, "backend": "sequential"},
    "models": [{"name": "cnn", "arch": "cnn1d"}],
    "tuning": {"holdout_fraction": 0.25, "n_startup_trials": 1, "n_warmup_steps": 0,
               "tpe_startup_trials": 3, "heartbeat_interval": 1, "grace_period": 2},
}


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL cannot start here: {exc}")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Config file + run dir with the cohort cache and split already built (no race)."""
    root = tmp_path_factory.mktemp("pgtune")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    ctx = RunContext.create(load_config(config), root / "run", progress=False)
    _ = ctx.split
    return config, root / "run"


def worker(config: Path, run_dir: Path, url: str, study: str, trials: int,
           index: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-c", "from ensembler.cli.main import main; main()", "tune",
           str(config), "--run-dir", str(run_dir), "--storage", url, "--study", study,
           "--trials", str(trials), "--worker", str(index), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen[bytes], timeout: float = 120) -> str:
    out, _ = proc.communicate(timeout=timeout)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    return text


def test_two_workers_share_one_study(pg_url: str, run: tuple[Path, Path]) -> None:
    config, run_dir = run
    procs = [worker(config, run_dir, pg_url, "shared", 10, i) for i in range(2)]
    outputs = [finish(p) for p in procs]
    storage = open_storage(load_config(config), run_dir, pg_url)
    study = optuna.load_study(study_name="shared-cnn", storage=storage)
    trials = study.get_trials(deepcopy=False)
    numbers = sorted(t.number for t in trials)
    assert numbers == list(range(len(trials)))  # none duplicated, none missing
    counted = [t for t in trials
               if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               and not t.user_attrs.get("surplus")]
    assert len(counted) == 10  # exactly the budget, over both workers
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    assert {t.user_attrs["worker"] for t in trials} == {0, 1}, outputs  # both took trials
    assert study.user_attrs["budget"] == {"kind": "trials", "value": 10}
    assert (run_dir / "hpo" / "fairness.json").is_file()


def test_killed_worker_trial_fails_and_is_retried(pg_url: str, run: tuple[Path, Path]) -> None:
    config, run_dir = run
    storage = open_storage(load_config(config), run_dir, pg_url)
    proc = worker(config, run_dir, pg_url, "kill", 3, 0)
    deadline = time.monotonic() + 90
    victim = None
    while victim is None and time.monotonic() < deadline:
        time.sleep(0.2)
        assert proc.poll() is None, "worker ended before a trial could be killed"
        try:
            study = optuna.load_study(study_name="kill-cnn", storage=storage)
        except KeyError:
            continue
        # mid-trial: its parameters are drawn, training is under way
        running = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                   if t.params]
        victim = running[0].number if running else None
    assert victim is not None, "no RUNNING trial seen"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(3)  # > grace_period: the dead trial's heartbeat is now stale
    finish(worker(config, run_dir, pg_url, "kill", 3, 1))
    trials = optuna.load_study(study_name="kill-cnn", storage=storage).get_trials()
    by_number = {t.number: t for t in trials}
    assert by_number[victim].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == victim]
    assert len(retries) == 1
    assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    # the retry re-uses every parameter the killed trial had drawn (it may have been killed
    # between two suggest_* calls; the retry then draws the rest)
    drawn = by_number[victim].params
    assert drawn and {k: retries[0].params.get(k) for k in drawn} == drawn
    counted = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(counted) == 3
