"""bench/bench_convergence.py --from-run: a run's recorded schedule step continued by more
rounds, reusing its trained schedules (only the new, longer ones train), the run untouched."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from schedule_fits import count_schedule_fits
from toydata import make_cohort, make_split

from ensembler.config import RunConfig
from ensembler.tuning.objective import make_tuning_split
from ensembler.tuning.schedule import schedule_path
from ensembler.tuning.stage import tune_entries

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_convergence  # noqa: E402


def schedule_config(**training: Any) -> RunConfig:
    """A small cnn1d from 1 epoch, factor 3, one schedule round (1 -> 3), no study."""
    return RunConfig.model_validate({
        "name": "toy-continue", "seed": 3,
        "training": {"epochs": 5, "batch_size": 16, "lr": 0.01, "crop_s": 1.0,
                     "patience": 50, "inner_val_fraction": 0.25, "n_jobs": 1,
                     "backend": "sequential", **training},
        "models": [{"name": "cnn", "arch": "cnn1d", "params": {"filters": [8, 8, 8]},
                    "training": {"epochs": 1}}],
        "tuning": {"enabled": True, "search": False, "trials": 1, "holdout_fraction": 0.3,
                   "pruner": "none", "tpe_startup_trials": 1,
                   "schedule": {"enabled": True, "factor": 3.0, "max_rounds": 1,
                                "n_bootstrap": 200}},
    })


def test_continue_rounds_trains_only_the_new_schedule(tmp_path: Path, monkeypatch) -> None:
    cohort = make_cohort(n_patients=80, per_patient=1, seed=4)
    split = make_split(cohort, k=2, test_patients=16)
    cfg = schedule_config()
    run = tmp_path / "run"
    (done,) = tune_entries(cfg, cohort, split, run, ["cnn"], log=None)
    assert done.schedule is not None and len(done.schedule.rounds) == 1
    folder = schedule_path(run, "cnn").with_suffix("")
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    record = schedule_path(run, "cnn").read_bytes()

    trained = count_schedule_fits(monkeypatch)
    tsplit = make_tuning_split(cfg, cohort.labels, cohort.patient_id, split.fold,
                               cohort.fingerprint)
    res, row = bench_convergence.continue_rounds(cfg, cfg.models[0], cohort, tsplit, run,
                                                 tmp_path / "work", extra=1)
    assert trained == [9]  # 1 and 3 epochs reloaded from the run's schedules; 3 -> 9 new
    assert [(r.epochs, r.epochs_longer) for r in res.rounds] == [(1, 3), (3, 9)]
    assert res.rounds[0] == done.schedule.rounds[0]
    assert row["new_rounds"] == 1 and row["recorded_epochs"] == done.schedule.epochs
    # the run is untouched: same files, same record; the new schedule went to the work dir
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert schedule_path(run, "cnn").read_bytes() == record
    assert list((tmp_path / "work" / "schedule" / "cnn").glob("*-9.npz"))

    other = schedule_config(lr=0.02)
    with pytest.raises(SystemExit, match="another configuration"):
        bench_convergence.continue_rounds(other, other.models[0], cohort, tsplit, run,
                                          tmp_path / "work2", extra=1)


def test_start_overrides_the_members_training_and_refuses_a_bad_field() -> None:
    entry = schedule_config().models[0]
    moved = bench_convergence.with_start(entry, "epochs=18, lr=0.01")
    assert moved.training.model_dump(exclude_unset=True) == {"epochs": 18, "lr": 0.01}
    assert entry.training.model_dump(exclude_unset=True) == {"epochs": 1}
    assert bench_convergence.with_start(entry, "") is entry
    with pytest.raises(SystemExit, match="lrr"):
        bench_convergence.with_start(entry, "lrr=0.01")
    with pytest.raises(SystemExit, match="epochs"):
        bench_convergence.with_start(entry, "epochs=0")
