"""The tuning stage's schedule step: too-short schedules are extended, converged ones kept,
the chosen epochs reach OOF training, only tuning-split rows are used, reruns skip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clirun import TINY_TUNING_RUN
from schedule_fits import count_schedule_fits
from toydata import make_cohort, make_split

from ensembler.config import RunConfig, load_config
from ensembler.errors import ConfigError
from ensembler.training.members import expand_entry
from ensembler.training.runner import member_specs, train_members
from ensembler.tuning import objective as objective_mod
from ensembler.tuning import schedule as schedule_mod
from ensembler.tuning.objective import make_tuning_split
from ensembler.tuning.results import (
    budget_sentence,
    fairness_table,
    load_best_params,
    study_params,
    write_fairness_report,
)
from ensembler.tuning.schedule import (
    longer_schedule,
    read_schedule,
    schedule_basis,
    schedule_path,
)
from ensembler.tuning.stage import tune_entries


def schedule_config(epochs: int = 1, factor: float = 4.0, max_rounds: int = 2,
                    search: bool = False, **entry: Any) -> RunConfig:
    """A small cnn1d on the planted 5 Hz burst; the schedule step on, no trials."""
    return RunConfig.model_validate({
        "name": "toy-schedule", "seed": 3,
        "training": {"epochs": epochs, "batch_size": 16, "lr": 0.01, "crop_s": 1.0,
                     "patience": 50, "inner_val_fraction": 0.25, "n_jobs": 1,
                     "backend": "sequential"},
        "models": [{"name": "cnn", "arch": "cnn1d", "params": {"filters": [8, 8, 8]}, **entry}],
        "tuning": {"enabled": True, "search": search, "trials": 1, "holdout_fraction": 0.3,
                   "pruner": "none", "tpe_startup_trials": 1,
                   "schedule": {"enabled": True, "factor": factor, "max_rounds": max_rounds,
                                "n_bootstrap": 200}},
    })


@pytest.fixture(scope="module")
def easy():
    """120 one-record patients whose label is a clear 5 Hz burst; 20 of them are test."""
    cohort = make_cohort(n_patients=120, per_patient=1, seed=4)
    return cohort, make_split(cohort, k=2, test_patients=20)


def _write(tmp_path: Path, tuning: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text("name: bad\nmodels: [{name: cnn, arch: cnn1d}]\n" + tuning)
    return path


@pytest.mark.parametrize(("tuning", "field"), [
    ("tuning: {schedule: {factor: 1.0}}", "tuning.schedule.factor"),
    ("tuning: {schedule: {factor: 0.5}}", "tuning.schedule.factor"),
    ("tuning: {schedule: {max_rounds: 0}}", "tuning.schedule.max_rounds"),
    ("tuning: {schedule: {n_bootstrap: 5}}", "tuning.schedule.n_bootstrap"),
    ("tuning: {enabled: true, search: false}", "tuning: enabled with search: false"),
])
def test_bad_schedule_config_names_the_field(tmp_path: Path, tuning: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_config(_write(tmp_path, tuning))


def test_longer_schedule_rounds_half_up_and_always_grows() -> None:
    assert [longer_schedule(e, 1.5) for e in (1, 5, 12, 20, 30)] == [2, 8, 18, 30, 45]
    assert longer_schedule(3, 1.1) == 4  # round(3.3) = 3 would not be longer


def test_scheduled_epochs_win_over_the_entry_override() -> None:
    """The step starts from the entry's own epochs, so its choice replaces them; other
    entry overrides still win over tuned values."""
    cfg = schedule_config(training={"epochs": 3, "lr": 0.002})
    spec = expand_entry(cfg.models[0], cfg, [], tuned={"training": {"epochs": 7, "lr": 0.1}})[0]
    assert spec.training.epochs == 7 and spec.training.lr == 0.002 and spec.tuned
    plain = expand_entry(cfg.models[0], cfg, [], tuned={"training": {"lr": 0.1}})[0]
    assert plain.training.epochs == 3


@pytest.mark.slow
def test_too_short_is_extended_then_kept_using_tuning_rows_only(
        tmp_path: Path, easy, monkeypatch) -> None:
    cohort, split = easy
    cfg = schedule_config(epochs=1, factor=4.0, max_rounds=2)
    parts, fits = [], []
    real_score, real_fit = schedule_mod.fit_and_score, objective_mod.fit_model

    def spy_score(spec, c, part, **kw):
        parts.append((kw["epochs"], part))
        return real_score(spec, c, part, **kw)

    def spy_fit(spec, signals, labels, tabular, fs, train_idx, val_idx, **kw):
        fits.append((np.asarray(train_idx), np.asarray(val_idx)))
        return real_fit(spec, signals, labels, tabular, fs, train_idx, val_idx, **kw)

    monkeypatch.setattr(schedule_mod, "fit_and_score", spy_score)
    monkeypatch.setattr(objective_mod, "fit_model", spy_fit)
    (done,) = tune_entries(cfg, cohort, split, tmp_path, ["cnn"], log=None)
    res = done.schedule
    assert done.study is None and res is not None
    first, second = res.rounds
    assert (first.epochs, first.epochs_longer, first.extended) == (1, 4, True)
    assert first.ci_low > 0 and first.auc_longer > first.auc
    assert (second.epochs, second.epochs_longer, second.extended) == (4, 16, False)
    assert second.ci_low <= 0
    assert res.epochs == 4 and res.converged
    assert res.decision == "extended to 4 epochs (converged there)"
    assert res.compute_seconds > 0 and res.cpu_seconds > 0

    # each schedule trained once; only the tuning split's development rows were used
    (train_rows, score_rows), = make_tuning_split(cfg, cohort.labels, cohort.patient_id,
                                                  split.fold).parts
    assert [e for e, _ in parts] == [1, 4, 16] and len(fits) == 3
    for _, (tr, sc) in parts:
        np.testing.assert_array_equal(tr, train_rows)
        np.testing.assert_array_equal(sc, score_rows)
    assert res.n_scored == len(score_rows)
    for tr, va in fits:  # fitted and early-stopped on the tuning-train part only
        assert set(tr) | set(va) <= set(train_rows)
    assert np.all(split.fold[np.concatenate([train_rows, score_rows])] >= 0)
    assert not set(cohort.patient_id[score_rows]) & set(cohort.patient_id[train_rows])
    assert not (tmp_path / "predictions").exists()  # no OOF predictions exist, none read


@pytest.mark.slow
def test_chosen_epochs_reach_training_report_and_a_rerun_skips(
        tmp_path: Path, easy, monkeypatch) -> None:
    cohort, split = easy
    # the entry's own epochs (1) are the starting point; factor 3: 1 -> 3 -> 9
    cfg = schedule_config(epochs=5, factor=3.0, max_rounds=1, training={"epochs": 1})
    (done,) = tune_entries(cfg, cohort, split, tmp_path, ["cnn"], log=None)
    res = done.schedule
    assert res is not None and res.start_epochs == 1 and res.epochs == 3
    assert res.decision == "extended to 3 epochs (max_rounds reached: not shown converged)"
    assert not res.converged
    assert load_best_params(cfg, tmp_path) == {"cnn": {"training": {"epochs": 3}}}

    spec = member_specs(cfg, cohort, load_best_params(cfg, tmp_path))[0]
    train_members(cfg, cohort, split, tmp_path, [spec], verbose=False)
    meta = json.loads((tmp_path / "predictions" / "cnn.json").read_text())
    assert meta["config"]["training"]["epochs"] == 3 and meta["tuned"]

    table = fairness_table(cfg, tmp_path)
    row = table.set_index("arch").loc["cnn"]
    assert row["schedule_epochs"] == 3 and not row["tuned"]
    assert row["schedule"].startswith("extended to 3 epochs") and "1->3: +" in row["schedule"]
    assert row["compute_seconds"] == pytest.approx(res.compute_seconds)
    assert row["cpu_seconds"] == pytest.approx(res.cpu_seconds)
    assert "Schedule step" in budget_sentence(table) and "cnn extended to 3" in \
        budget_sentence(table)
    report = json.loads(write_fairness_report(cfg, tmp_path)["json"].read_text())
    assert report["schedules"]["cnn"]["epochs"] == 3

    def boom(*_a: Any, **_k: Any) -> None:
        raise AssertionError("the schedule step retrained on a rerun with the same key")

    monkeypatch.setattr(schedule_mod, "fit_and_score", boom)
    (again,) = tune_entries(cfg, cohort, split, tmp_path, ["cnn"], log=None)
    assert again.schedule == res

    # interrupted before the 3-epoch schedule finished: only that one trains again
    schedule_path(tmp_path, "cnn").unlink()
    (longer,) = schedule_path(tmp_path, "cnn").with_suffix("").glob("*-3.npz")
    longer.unlink()
    trained = count_schedule_fits(monkeypatch)
    (resumed,) = tune_entries(cfg, cohort, split, tmp_path, ["cnn"], log=None)
    assert trained == [3] and resumed.schedule is not None
    (r0,), (r1,) = res.rounds, resumed.schedule.rounds
    assert (r1.auc, r1.auc_longer, r1.ci_low, r1.extended) == (r0.auc, r0.auc_longer,
                                                                r0.ci_low, r0.extended)
    assert resumed.schedule.compute_seconds >= r0.fit_seconds  # the reused fit counts
    monkeypatch.setattr(schedule_mod, "fit_and_score", boom)
    # a changed starting point makes the record stale: not applied, and rerun by tune
    other = schedule_config(epochs=5, factor=3.0, max_rounds=1,
                            training={"epochs": 1, "lr": 0.02})
    assert load_best_params(other, tmp_path) == {}
    assert read_schedule(tmp_path, "cnn") == resumed.schedule
    with pytest.raises(AssertionError, match="retrained"):
        tune_entries(other, cohort, split, tmp_path, ["cnn"], log=None)


@pytest.mark.slow
def test_schedule_starts_from_the_studys_best_trial(tmp_path: Path, easy) -> None:
    cohort, split = easy
    cfg = schedule_config(epochs=1, factor=2.0, max_rounds=1, search=True)
    (done,) = tune_entries(cfg, cohort, split, tmp_path, ["cnn"], log=None)
    assert done.study is not None and done.study.counted == 1 and done.schedule is not None
    best = study_params(cfg, tmp_path)["cnn"]
    assert done.schedule.basis == schedule_basis(cfg, cfg.models[0], best)
    tuned = load_best_params(cfg, tmp_path)["cnn"]
    assert tuned["model"] == best["model"] and tuned["training"]["lr"] == best["training"]["lr"]
    assert tuned["training"]["epochs"] == done.schedule.epochs
    row = fairness_table(cfg, tmp_path).iloc[0]
    assert row["tuned"] and row["compute_seconds"] > done.schedule.compute_seconds


def test_trials_flag_without_search_is_refused(tmp_path: Path, easy) -> None:
    cohort, split = easy
    with pytest.raises(ConfigError, match=r"tuning\.search is false"):
        tune_entries(schedule_config(), cohort, split, tmp_path, ["cnn"], trials=3, log=None)


def test_ptbxl_cpu_profile_tunes_epochs_and_the_lr_of_three_networks() -> None:
    repo = Path(__file__).resolve().parents[2] / "configs" / "ptbxl_superdiag.yaml"
    cpu = load_config(repo)
    t = cpu.tuning
    assert t.enabled and t.schedule.enabled
    assert t.schedule.factor == 1.5 and t.schedule.max_rounds == 2
    # lr (and the width of the two cheap networks) through focused studies; the schedule
    # step for every network
    assert [n for n in t.archs if t.searches(n)] == ["s4d", "vit1d", "ts_cnn"]
    assert {n: t.search_only_for(n) for n in t.archs} == {
        "cnn_lstm": [], "s4d": ["lr"], "vit1d": ["lr", "dim"], "ts_cnn": ["lr", "width"]}
    # every network but the reference recipe (which stays the benchmark's 20 epochs)
    assert t.archs == [m.name for m in cpu.models if m.name != "plain_recipe"]
    full = load_config(repo, profile="full").tuning
    assert full.searches_any and not full.schedule.enabled


def test_cli_refuses_a_trial_budget_without_search(tmp_path: Path, monkeypatch, capsys) -> None:
    from clirun import run_cli

    path = _write(tmp_path, "tuning: {search: false, schedule: {enabled: true}}\n")
    code = run_cli(monkeypatch, "tune", str(path), "--trials", "2",
                   "--run-dir", str(tmp_path / "run"))
    assert code == 2 and "tuning.search is false" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


CLI_CONFIG = "name: tiny-schedule\n" + TINY_TUNING_RUN + """models:
  - {name: cnn, arch: cnn1d, params: {filters: [8, 8, 8]}}
tuning:
  enabled: true
  search: false
  schedule: {enabled: true, factor: 2.0, max_rounds: 1, n_bootstrap: 100}
"""


@pytest.mark.slow
def test_tune_cli_runs_the_schedule_step_and_train_uses_it(
        tmp_path: Path, monkeypatch, capsys) -> None:
    """The lead's workflow: `ensembler tune CONFIG` (schedule step only), then training."""
    from clirun import run_cli

    path = tmp_path / "tiny.yaml"
    path.write_text(CLI_CONFIG)
    run = tmp_path / "run"
    assert run_cli(monkeypatch, "tune", str(path), "--run-dir", str(run), "--quiet") == 0
    out = capsys.readouterr().out
    result = read_schedule(run, "cnn")
    assert result is not None and f"cnn schedule: {result.summary()}" in out
    report = json.loads((run / "hpo" / "fairness.json").read_text())
    assert report["schedules"]["cnn"]["epochs"] == result.epochs
    assert "Schedule step" in report["sentence"]
    assert run_cli(monkeypatch, "train", str(path), "--run-dir", str(run)) == 0
    meta = json.loads((run / "predictions" / "cnn.json").read_text())
    assert meta["config"]["training"]["epochs"] == result.epochs


def test_report_provenance_says_where_the_epochs_came_from() -> None:
    import pandas as pd

    from ensembler.pipeline.compare import PROVENANCE, provenance_of_tuning

    scheduled = pd.DataFrame([{"arch": "cnn", "schedule": "converged at 20 epochs (...)"},
                              {"arch": "feat", "schedule": None}])
    out = provenance_of_tuning(None, scheduled)
    assert out["member hyper-parameters"] == "configured (no hyper-parameter search)"
    assert "schedule step" in out["member epochs"] and "tuning holdout" in out["member epochs"]
    trials = pd.DataFrame([{"arch": "cnn", "number": 0}])
    plain = provenance_of_tuning(trials, scheduled.assign(schedule=None))
    assert plain == PROVENANCE  # a study and no schedule step: as before
