"""A focused search (``tuning.search_only``): only the named parameters are sampled, the
others keep the entry's configured values, and the configured point is trial 0."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

from ensembler.config import RunConfig
from ensembler.errors import ConfigError
from ensembler.training.members import MemberSpec
from ensembler.tuning.objective import Objective, tuned_member
from ensembler.tuning.results import load_best_params, study_params, write_fairness_report
from ensembler.tuning.schedule import schedule_basis
from ensembler.tuning.stage import tune_entries
from ensembler.tuning.storage import open_storage
from ensembler.utils.hashing import fingerprint


def focused_cfg(make_cfg: Callable[..., RunConfig], **tuning: Any) -> RunConfig:
    """The tiny tuning config whose cnn1d entry configures lr, dropout and its pooling."""
    cfg = make_cfg(**tuning)
    data = cfg.model_dump(mode="json", exclude_unset=True)
    data["models"] = [{"name": "cnn", "arch": "cnn1d", "params": {"pool": "concat"},
                       "training": {"lr": 0.002, "dropout": 0.3}}]
    data["training"]["augment"] = {"amplitude_scale": 0.2, "noise_std": 0.04}
    return RunConfig.model_validate(data)


def _study(cfg: RunConfig, run_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name="tune-cnn", storage=open_storage(cfg, run_dir))


@pytest.mark.slow
def test_focused_study_samples_only_the_named_and_starts_at_the_configured_point(
        tmp_path: Path, cohort, split, monkeypatch, make_cfg) -> None:
    cfg = focused_cfg(make_cfg, trials=3, search_only=["lr", "pool", "aug_noise_std"])
    built: list[MemberSpec] = []
    member = Objective.member

    def recording(self: Objective, params: dict[str, Any]) -> MemberSpec:
        built.append(member(self, params))
        return built[-1]

    monkeypatch.setattr(Objective, "member", recording)
    (done,) = tune_entries(cfg, cohort, split, tmp_path, ["cnn"], log=None)
    assert done.study is not None and done.study.counted == 3
    study = _study(cfg, tmp_path)
    trials = sorted(study.trials, key=lambda t: t.number)
    assert all(set(t.params) == {"lr", "pool", "aug_noise_std"} for t in trials)
    # trial 0 is the configured point: the entry's lr and pool, the global noise_std
    assert trials[0].params == {"lr": 0.002, "pool": "concat", "aug_noise_std": 0.04}
    assert trials[0].user_attrs["configured"] and study.user_attrs["search_only"] == [
        "lr", "pool", "aug_noise_std"]
    untuned = tuned_member(cfg, cfg.models[0], [], None)
    assert built[0].params == untuned.params and built[0].training == untuned.training
    for spec, t in zip(built, trials, strict=True):  # the others: configured values
        assert spec.training.lr == t.params["lr"] and spec.params["pool"] == t.params["pool"]
        assert spec.training.dropout == 0.3 and spec.training.weight_decay == \
            cfg.training.weight_decay and spec.training.batch_size == 16
        assert spec.training.augment.amplitude_scale == 0.2
        assert spec.training.augment.noise_std == t.params["aug_noise_std"]
        assert spec.params == {"pool": t.params["pool"]}  # filters etc.: the defaults
    # the rebuilt best trial gives the member the search trained
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(complete, key=lambda t: float(t.value or 0.0))
    rebuilt = tuned_member(cfg, cfg.models[0], [], load_best_params(cfg, tmp_path)["cnn"])
    assert rebuilt.describe() == built[best.number].describe()

    # resuming with a larger budget does not enqueue the configured point again
    (more,) = tune_entries(cfg, cohort, split, tmp_path, ["cnn"], trials=4, log=None)
    assert more.study is not None and more.study.ran == 1
    assert sum(bool(t.user_attrs.get("configured")) for t in _study(cfg, tmp_path).trials) == 1

    report = json.loads(write_fairness_report(cfg, tmp_path)["json"].read_text())
    row = report["archs"][0]
    assert row["searched"] == ["lr", "pool", "aug_noise_std"] and row["configured_trial"] == 0
    assert row["configured_auc"] == trials[0].value
    assert row["best_auc_label"] == "selected on (optimistic)"
    assert row["gain_vs_configured"] == pytest.approx(row["best_auc"] - row["configured_auc"])
    assert "Focused search" in report["sentence"] and "cnn searched lr, pool" in \
        report["sentence"]

    # another search_only would mix trials that searched other parameters: refused
    other = focused_cfg(make_cfg, trials=4, search_only=["lr"])
    with pytest.raises(ConfigError, match="search_only"):
        tune_entries(other, cohort, split, tmp_path, ["cnn"], log=None)


def test_unknown_search_only_name_is_a_one_line_config_error(tmp_path: Path, cohort, split,
                                                             make_cfg) -> None:
    cfg = focused_cfg(make_cfg, search_only=["lr", "dim"])  # dim: vit1d's, not cnn1d's
    with pytest.raises(ConfigError) as err:
        tune_entries(cfg, cohort, split, tmp_path, ["cnn"], log=None)
    msg = str(err.value)
    assert "tuning.search_only" in msg and "dim" in msg and "lr" in msg.split("valid")[1]
    assert "\n" not in msg and "depth" not in msg.split("valid")[1]  # cnn1d's builds filters
    assert not (tmp_path / "hpo").exists()  # refused before any study is opened


def test_a_configured_value_outside_the_searched_range_is_refused(tmp_path: Path, cohort,
                                                                  split, make_cfg) -> None:
    cfg = focused_cfg(make_cfg, search_only=["batch_size"])  # 16/32/64: 16 configured
    data = cfg.model_dump(mode="json", exclude_unset=True)
    data["training"]["batch_size"] = 128
    cfg = RunConfig.model_validate(data)
    with pytest.raises(ConfigError, match="batch_size=128"):
        tune_entries(cfg, cohort, split, tmp_path, ["cnn"], log=None)


def test_focused_params_win_over_the_entry_and_keep_the_rest(make_cfg) -> None:
    cfg = focused_cfg(make_cfg)
    entry = cfg.models[0]
    spec = tuned_member(cfg, entry, [], {"focused": True, "training": {
        "lr": 0.005, "augment": {"noise_std": 0.0}}, "model": {"pool": "avg"}})
    assert spec.training.lr == 0.005 and spec.params == {"pool": "avg"}
    assert spec.training.dropout == 0.3 and spec.training.augment.amplitude_scale == 0.2
    assert spec.training.augment.noise_std == 0.0
    # a full-space study's params: the entry's configuration still wins, as before
    full = tuned_member(cfg, entry, [], {"training": {"lr": 0.005}, "model": {"pool": "avg"}})
    assert full.training.lr == 0.002 and full.params == {"pool": "concat"}


def test_empty_search_only_leaves_every_key_unchanged(make_cfg) -> None:
    """Fingerprints computed with the code before ``search_only`` existed (commit 232aede):
    runs made then stay resumable."""
    cfg = make_cfg()
    assert cfg.tuning.search_only == []
    entry = cfg.models[0]
    tuned = {"training": {"lr": 0.002, "augment": {"noise_std": 0.05}},
             "model": {"pool": "concat"}}
    assert schedule_basis(cfg, entry, None) == "53a94e831b9877b0"
    assert schedule_basis(cfg, entry, tuned) == "81ab3e5a40d2a39c"
    assert fingerprint(tuned_member(cfg, entry, [], tuned).describe()) == "c772751ad94ff501"


@pytest.mark.slow
def test_whole_space_study_records_no_search_only(tmp_path: Path, cohort, split,
                                                 make_cfg) -> None:
    cfg = make_cfg(trials=2)
    tune_entries(cfg, cohort, split, tmp_path, ["cnn"], log=None)
    study = _study(cfg, tmp_path)
    assert "search_only" not in study.user_attrs
    assert not any(t.user_attrs.get("configured") for t in study.trials)
    assert "focused" not in study_params(cfg, tmp_path)["cnn"]
    row = json.loads(write_fairness_report(cfg, tmp_path)["json"].read_text())["archs"][0]
    assert "searched" not in row and "configured_auc" not in row


@pytest.mark.parametrize(("search_only", "expected"), [
    ("[lr, hidden_size]", "tuning.search_only: hidden_size is in no tuned entry's space"),
    ("{cnn: [lr, hidden_size]}", "tuning.search_only.cnn: hidden_size is not in cnn's space"),
])
def test_cli_refuses_an_unknown_search_only_name_before_any_output(
        tmp_path: Path, monkeypatch, capsys, search_only: str, expected: str) -> None:
    from clirun import run_cli

    path = tmp_path / "cfg.yaml"
    path.write_text("name: bad\nmodels: [{name: cnn, arch: cnn1d}]\n"
                    f"tuning: {{search_only: {search_only}}}\n")
    code = run_cli(monkeypatch, "tune", str(path), "--run-dir", str(tmp_path / "run"))
    err = capsys.readouterr().err
    assert code == 2 and expected in err
    assert "valid names: lr" in err and "\n" not in err.strip()
    assert "Traceback" not in err and not (tmp_path / "run").exists()
