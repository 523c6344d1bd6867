"""``tuning.search_only`` per searched entry, and the epochs a study's trials run at.

A mapping ``{entry: [names]}`` focuses each named entry's study on its own parameters; an
entry it does not name searches its whole space. A study resumes only under the same
parameters really sampled (a global list may name other entries' parameters) and the same
epochs per trial, which default to the entry's own ``training.epochs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from ensembler.config import RunConfig
from ensembler.errors import ConfigError
from ensembler.tuning.entries import entries_to_tune
from ensembler.tuning.stage import tune_entries
from ensembler.tuning.storage import open_storage


def two_entry_cfg(make_cfg: Any, search_only: Any, **tuning: Any) -> RunConfig:
    """cnn (lr 0.002, pool concat) and wide (cnn1d, no overrides); tuning as given."""
    data = make_cfg(search_only=search_only, **tuning).model_dump(mode="json",
                                                                 exclude_unset=True)
    data["models"] = [{"name": "cnn", "arch": "cnn1d", "params": {"pool": "concat"},
                       "training": {"lr": 0.002}},
                      {"name": "wide", "arch": "cnn1d"}]
    return RunConfig.model_validate(data)


def _study(cfg: RunConfig, run_dir: Path, entry: str) -> optuna.Study:
    return optuna.load_study(study_name=f"tune-{entry}", storage=open_storage(cfg, run_dir))


def test_search_only_for_reads_a_list_or_a_mapping(make_cfg) -> None:
    listed = two_entry_cfg(make_cfg, ["lr", "pool"]).tuning
    assert listed.search_only_for("cnn") == listed.search_only_for("wide") == ["lr", "pool"]
    mapped = two_entry_cfg(make_cfg, {"cnn": ["pool"]}).tuning
    assert mapped.search_only_for("cnn") == ["pool"] and mapped.search_only_for("wide") == []


@pytest.mark.parametrize(("search_only", "expected"), [
    ({"cnn": ["dim"]}, "tuning.search_only.cnn: dim is not in cnn's space; valid names: lr"),
    ({"cnnn": ["lr"]}, "tuning.search_only: cnnn is not searched here; searched entries: "
                       "cnn, wide"),
])
def test_a_bad_mapping_is_a_one_line_config_error(make_cfg, search_only, expected) -> None:
    cfg = two_entry_cfg(make_cfg, search_only)
    with pytest.raises(ConfigError) as err:
        entries_to_tune(cfg)
    assert str(err.value).startswith(expected) and "\n" not in str(err.value)


def test_a_mapping_may_only_name_searched_entries(make_cfg) -> None:
    cfg = two_entry_cfg(make_cfg, {"wide": ["lr"]}, search=["cnn"])
    with pytest.raises(ConfigError, match="wide is not searched here; searched entries: cnn"):
        entries_to_tune(cfg)


@pytest.mark.slow
def test_each_named_entry_searches_its_own_names_the_others_their_whole_space(
        tmp_path: Path, cohort, split, make_cfg) -> None:
    cfg = two_entry_cfg(make_cfg, {"cnn": ["lr"]}, trials=2)
    tune_entries(cfg, cohort, split, tmp_path, ["cnn", "wide"], log=None)
    focused, whole = _study(cfg, tmp_path, "cnn"), _study(cfg, tmp_path, "wide")
    assert focused.user_attrs["search_only"] == ["lr"]
    assert all(set(t.params) == {"lr"} for t in focused.trials)
    assert focused.trials[0].params == {"lr": 0.002}  # the configured point first
    assert "search_only" not in whole.user_attrs
    assert all({"lr", "dropout", "pool"} <= set(t.params) for t in whole.trials)


@pytest.mark.slow
def test_a_study_resumes_under_the_same_sampled_names_only(tmp_path: Path, cohort, split,
                                                          make_cfg) -> None:
    first = make_cfg(trials=1, search_only=["lr", "pool"])  # a global list
    tune_entries(first, cohort, split, tmp_path, ["cnn"], log=None)
    # the same names per entry, in another order: the same study, one more trial
    same = make_cfg(trials=2, search_only={"cnn": ["pool", "lr"]})
    (done,) = tune_entries(same, cohort, split, tmp_path, ["cnn"], log=None)
    assert done.study is not None and done.study.ran == 1
    assert all(set(t.params) == {"lr", "pool"} for t in _study(same, tmp_path, "cnn").trials)
    # fewer names: its trials searched something else, refused
    refused = r"searched search_only=.*'pool'.*this run has tuning.search_only=\['lr'\]"
    with pytest.raises(ConfigError, match=refused):
        tune_entries(make_cfg(trials=3, search_only={"cnn": ["lr"]}), cohort, split,
                     tmp_path, ["cnn"], log=None)


@pytest.mark.slow
def test_trials_run_at_the_entry_epochs_and_refuse_to_mix_other_epochs(
        tmp_path: Path, cohort, split, make_cfg) -> None:
    data = make_cfg(trials=1).model_dump(mode="json", exclude_unset=True)
    data["models"][0]["training"] = {"epochs": 3}  # the global training.epochs is 2
    cfg = RunConfig.model_validate(data)
    tune_entries(cfg, cohort, split, tmp_path, ["cnn"], log=None)
    study = _study(cfg, tmp_path, "cnn")
    assert study.user_attrs["epochs_per_trial"] == 3
    assert max(study.trials[0].intermediate_values) == 3  # one step per epoch (1-based)
    data["tuning"]["epochs"], data["tuning"]["trials"] = 2, 2  # tuning.epochs wins
    with pytest.raises(ConfigError, match="epochs_per_trial=3, this run has 2"):
        tune_entries(RunConfig.model_validate(data), cohort, split, tmp_path, ["cnn"],
                     log=None)
