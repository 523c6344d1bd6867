"""``tuning.search`` as a list of entry names: trials for those entries only, the schedule
step for every tuned entry; true/false keep every key of the runs made before the list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from clirun import TINY_TUNING_RUN

from ensembler.config import RunConfig, config_from_dict
from ensembler.errors import ConfigError
from ensembler.training.runner import member_specs
from ensembler.tuning.objective import make_tuning_split
from ensembler.tuning.results import fairness_table, load_best_params, trials_frame
from ensembler.tuning.schedule import read_schedule, schedule_basis
from ensembler.tuning.stage import tune_entries
from ensembler.tuning.storage import open_storage
from ensembler.utils.hashing import fingerprint


def two_entries(search: Any, archs: list[str] | None = None,
                schedule: bool = True) -> dict[str, Any]:
    """Two tiny cnn1d entries ``a`` and ``b``, one trial, the schedule step (one round)."""
    return {
        "name": "toy-search-list", "seed": 7,
        "training": {"epochs": 1, "batch_size": 16, "crop_s": 1.0, "patience": 2,
                     "inner_val_fraction": 0.25, "n_jobs": 1, "backend": "sequential"},
        "models": [{"name": "a", "arch": "cnn1d"},
                   {"name": "b", "arch": "cnn1d"}],
        "tuning": {"enabled": True, "search": search, "archs": archs or ["a", "b"],
                   "trials": 1, "holdout_fraction": 0.25, "pruner": "none",
                   "tpe_startup_trials": 1,
                   "schedule": {"enabled": schedule, "factor": 2.0, "max_rounds": 1,
                                "n_bootstrap": 100}},
    }


def _studies_with_trials(cfg: RunConfig, run_dir: Path) -> dict[str, int]:
    store = open_storage(cfg, run_dir, None)
    return {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(store)}


def test_true_and_false_keep_their_keys_and_a_list_reads_the_same(make_cfg, cohort,
                                                                  split) -> None:
    """Keys computed with the code before the list existed (commit 671db3e): runs made
    with ``search: true``/``false`` stay resumable; a listed entry keys as with true."""
    tuned = {"training": {"lr": 0.002}, "model": {"pool": "concat"}}
    for search in (False, True, ["cnn"]):
        cfg = make_cfg(enabled=True, search=search, archs=["cnn"], schedule={"enabled": True})
        entry = cfg.models[0]
        assert schedule_basis(cfg, entry, None) == "10a2894bdc05b544"
        assert schedule_basis(cfg, entry, tuned) == "2ad9d636bab76b11"
        tsplit = make_tuning_split(cfg, cohort.labels, cohort.patient_id, split.fold,
                                   cohort.fingerprint)
        assert tsplit.fingerprint == "c5e9aff3c51ec882"
        assert fingerprint(member_specs(cfg, cohort, {})[0].describe()) == "c8322fb9c28071e8"
    assert make_cfg(search=["cnn"]).tuning.searches("cnn")


def test_a_listed_entry_gets_a_study_the_other_the_schedule_step_alone(
        tmp_path: Path, cohort, split) -> None:
    # a study of b left in the storage by an earlier config: not this config's
    earlier = RunConfig.model_validate(two_entries(["b"], schedule=False))
    tune_entries(earlier, cohort, split, tmp_path, ["b"], log=None)
    cfg = RunConfig.model_validate(two_entries(["a"]))
    done = {d.entry: d for d in tune_entries(cfg, cohort, split, tmp_path, ["a", "b"],
                                             log=None)}
    assert done["a"].study is not None and done["a"].study.counted == 1
    assert done["b"].study is None
    assert done["a"].schedule is not None and done["b"].schedule is not None
    assert _studies_with_trials(cfg, tmp_path) == {"tune-a": 1, "tune-b": 1}
    tuned = load_best_params(cfg, tmp_path)
    assert "model" in tuned["a"] and tuned["b"] == {
        "training": {"epochs": read_schedule(tmp_path, "b").epochs}}  # type: ignore[union-attr]
    table = fairness_table(cfg, tmp_path).set_index("arch")
    assert bool(table.loc["a", "tuned"]) and not bool(table.loc["b", "tuned"])
    assert set(trials_frame(cfg, tmp_path)["arch"]) == {"a"}
    # --trials budgets the listed entry's study; an unlisted entry alone has none to budget
    with pytest.raises(ConfigError, match=r"tuning\.search lists a, none of the entries "
                                          r"tuned here \(b\)"):
        tune_entries(cfg, cohort, split, tmp_path, ["b"], trials=2, log=None)


@pytest.mark.parametrize(("search", "archs", "valid"), [
    (["c"], ["a", "b"], "a, b"),
    (["b"], ["a"], "a"),
    (["c"], [], "a, b"),  # empty archs: every entry is tuned
])
def test_a_name_outside_the_tuned_entries_is_refused(search: list[str], archs: list[str],
                                                     valid: str) -> None:
    raw = two_entries(search)
    raw["tuning"]["archs"] = archs
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw, "cfg.yaml")
    message = str(err.value)
    assert "tuning.search" in message and f"the tuned entries are: {valid}" in message
    assert len(message.strip().splitlines()) == 1


def test_an_empty_list_is_false(tmp_path: Path, cohort, split) -> None:
    with pytest.raises(ConfigError, match="nothing to run"):
        config_from_dict(two_entries([], schedule=False), "cfg.yaml")
    cfg = config_from_dict(two_entries([]), "cfg.yaml")
    assert not cfg.tuning.searches_any and not cfg.tuning.searches("a")
    with pytest.raises(ConfigError, match=r"tuning\.search is false"):
        tune_entries(cfg, cohort, split, tmp_path, ["a", "b"], trials=1, log=None)


CLI_CONFIG = "name: tiny-search-list\n" + TINY_TUNING_RUN + """models:
  - {name: a, arch: cnn1d}
  - {name: b, arch: cnn1d}
tuning:
  enabled: true
  archs: [a, b]
  search: [a]
  trials: 3
  pruner: none
  tpe_startup_trials: 1
  schedule: {enabled: true, factor: 2.0, max_rounds: 1, n_bootstrap: 100}
"""


def test_tune_cli_budgets_the_listed_entries_only(tmp_path: Path, monkeypatch,
                                                  capsys) -> None:
    from clirun import run_cli

    path = tmp_path / "tiny.yaml"
    path.write_text(CLI_CONFIG)
    run = tmp_path / "run"
    assert run_cli(monkeypatch, "tune", str(path), "--run-dir", str(run), "--quiet",
                   "--trials", "1") == 0
    out = capsys.readouterr().out
    assert "tune-a: 1 trial(s) run here, 1 counted" in out and "tune-b" not in out
    for name in ("a", "b"):
        result = read_schedule(run, name)
        assert result is not None and f"{name} schedule: {result.summary()}" in out
    report = json.loads((run / "hpo" / "fairness.json").read_text())
    assert report["untuned"] == ["b"] and set(report["schedules"]) == {"a", "b"}
    assert "Not tuned (0 trials" in report["sentence"] and "b" in report["sentence"]
    code = run_cli(monkeypatch, "tune", str(path), "--run-dir", str(run), "--arch", "b",
                   "--trials", "1")
    assert code == 2 and "tuning.search lists a" in capsys.readouterr().err


def test_report_provenance_names_the_entries_without_a_study() -> None:
    import pandas as pd

    from ensembler.pipeline.compare import PROVENANCE, provenance_of_tuning

    trials = pd.DataFrame([{"arch": "a", "number": 0}])
    summary = pd.DataFrame([{"arch": "a", "tuned": True, "schedule": None},
                            {"arch": "b", "tuned": False, "schedule": None}])
    out = provenance_of_tuning(trials, summary)["member hyper-parameters"]
    assert out == f"{PROVENANCE['member hyper-parameters']}; configured for b (no study)"
    every = provenance_of_tuning(trials, summary.assign(tuned=True))
    assert every == PROVENANCE  # every entry searched: as before
