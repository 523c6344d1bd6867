"""Studies: equal budget, resumable, retried trials, best params into OOF training, report."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pandas as pd
import pytest

from ensembler.errors import ConfigError
from ensembler.training.runner import member_specs
from ensembler.tuning.results import (
    TRIAL_COLUMNS,
    fairness_table,
    load_best_params,
    write_fairness_report,
)
from ensembler.tuning.storage import open_storage
from ensembler.tuning.study import tune_entry


@pytest.mark.slow
def test_trial_budget_resume_and_report(tmp_path: Path, cohort, split, make_cfg) -> None:
    cfg = make_cfg(trials=3)
    assert load_best_params(cfg, tmp_path) == {}
    assert not (tmp_path / "hpo").exists()  # looking does not create a store
    first = tune_entry(cfg, cohort, split, tmp_path, "cnn", log=None)
    assert first.ran == 3 and first.counted == 3
    again = tune_entry(cfg, cohort, split, tmp_path, "cnn", log=None)
    assert again.ran == 0  # the budget is spent: a rerun adds nothing
    study = optuna.load_study(study_name="tune-cnn", storage=open_storage(cfg, tmp_path))
    attrs = study.user_attrs
    assert attrs["budget"] == {"kind": "trials", "value": 3}
    assert attrs["arch"] == "cnn1d" and attrs["seed"] == 11 and attrs["space"] == "cnn1d"
    assert "test rows never used" in attrs["objective"] and attrs["split_fingerprint"]

    paths = write_fairness_report(cfg, tmp_path)
    report = json.loads(paths["json"].read_text())
    row = report["archs"][0]
    states = [t.state.name for t in study.trials]
    assert row["complete"] == states.count("COMPLETE") and row["pruned"] == states.count("PRUNED")
    assert row["complete"] + row["pruned"] == 3 and row["budget_met"]
    assert report["equal_budget"] and report["under_tuned"] == []
    trials = pd.read_csv(paths["csv"])
    assert list(trials.columns) == TRIAL_COLUMNS and sorted(trials["number"]) == [0, 1, 2]
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # best params flow into OOF training, rebuilt through the same suggest function
    tuned = load_best_params(cfg, tmp_path)["cnn"]
    best = study.best_trial
    assert tuned["training"]["lr"] == best.params["lr"]
    assert len(tuned["model"]["filters"]) == best.params["depth"]
    spec = member_specs(cfg, cohort, {"cnn": tuned})[0]
    assert spec.tuned and spec.params["filters"] == tuned["model"]["filters"]
    assert spec.training.batch_size == best.params["batch_size"]

    # a larger budget extends the same study; the report flags the unequal budgets
    more = tune_entry(cfg, cohort, split, tmp_path, "cnn", trials=4, log=None)
    assert more.ran == 1 and more.counted == 4


@pytest.mark.slow
def test_retried_trial_runs_and_is_reported(tmp_path: Path, cohort, split, make_cfg) -> None:
    """A failed trial's queued retry (what the heartbeat callback enqueues) runs and counts."""
    cfg = make_cfg(trials=1, pruner="none")
    tune_entry(cfg, cohort, split, tmp_path, "cnn", log=None)
    study = optuna.load_study(study_name="tune-cnn", storage=open_storage(cfg, tmp_path))
    first = study.trials[0]
    study.add_trial(optuna.trial.create_trial(  # trial 1: a worker died in it
        state=optuna.trial.TrialState.FAIL, params=first.params,
        distributions=first.distributions))
    study.add_trial(optuna.trial.create_trial(  # trial 2: its retry, queued
        state=optuna.trial.TrialState.WAITING, params=first.params,
        distributions=first.distributions,
        system_attrs={"failed_trial": 1, "retry_history": [1]}))
    out = tune_entry(cfg, cohort, split, tmp_path, "cnn", trials=2, log=None)
    assert out.ran == 1 and out.counted == 2  # the retry filled the budget, nothing more
    retried = study.trials[2]
    assert retried.state == optuna.trial.TrialState.COMPLETE
    assert retried.params == first.params
    assert retried.value == pytest.approx(first.value)  # same params, same seed: same AUC
    table = fairness_table(cfg, tmp_path)
    assert list(table.loc[0, ["complete", "failed"]]) == [2, 1]
    frame = write_fairness_report(cfg, tmp_path)["csv"]
    assert pd.read_csv(frame)["retried_from"].tolist()[2] == 1


@pytest.mark.slow
def test_seconds_budget(tmp_path: Path, cohort, split, make_cfg) -> None:
    cfg = make_cfg(trials=None, seconds=1.0, pruner="none")
    out = tune_entry(cfg, cohort, split, tmp_path, "cnn", log=None)
    assert out.budget.kind == "seconds"
    secs = [t.user_attrs["compute_seconds"] for t in optuna.load_study(
        study_name="tune-cnn", storage=open_storage(cfg, tmp_path)).trials]
    assert sum(secs) >= 1.0 and sum(secs[:-1]) < 1.0  # stops at the first trial past S


@pytest.mark.slow
def test_refuses_a_study_from_another_split(tmp_path: Path, cohort, split, make_cfg) -> None:
    cfg = make_cfg(trials=1)
    tune_entry(cfg, cohort, split, tmp_path, "cnn", log=None)
    other = make_cfg(trials=1, holdout_fraction=0.3)
    with pytest.raises(ConfigError, match="split_fingerprint"):
        tune_entry(other, cohort, split, tmp_path, "cnn", log=None)
    with pytest.raises(ConfigError, match="unknown model entry 'nope'"):
        tune_entry(cfg, cohort, split, tmp_path, "nope", log=None)
    with pytest.raises(ConfigError, match="cannot open Optuna storage"):
        tune_entry(cfg, cohort, split, tmp_path, "cnn", storage="nosuchdb://x", log=None)


@pytest.mark.slow
def test_fairness_covers_untuned_entries(tmp_path: Path, cohort, split, make_cfg) -> None:
    """Every model entry is in the fairness table; an untuned one has 0 trials and is
    under-tuned, and the budget sentence comes from the studies' recorded budgets."""
    from ensembler.tuning.results import budget_sentence

    cfg = make_cfg(trials=1)
    cfg = type(cfg).model_validate({**cfg.model_dump(), "models": [
        {"name": "cnn", "arch": "cnn1d"}, {"name": "vit", "arch": "vit1d"}]})
    tune_entry(cfg, cohort, split, tmp_path, "cnn", log=None)
    table = fairness_table(cfg, tmp_path)
    assert list(table["arch"]) == ["cnn", "vit"]
    vit = table.set_index("arch").loc["vit"]
    assert vit["complete"] == 0 and not vit["tuned"] and not vit["budget_met"]
    report = json.loads(write_fairness_report(cfg, tmp_path)["json"].read_text())
    assert report["under_tuned"] == ["vit"] and report["untuned"] == ["vit"]
    assert not report["equal_budget"]
    sentence = budget_sentence(table)
    assert sentence.startswith("Tuning budget: 1 trial per entry for cnn")
    assert "Not tuned (0 trials, under-tuned; configured hyper-parameters): vit" in sentence
