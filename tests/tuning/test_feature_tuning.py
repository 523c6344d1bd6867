"""Feature members are tuned by the per-architecture search: own space, the networks' tuning
split and budget unit, CPU seconds in the fairness table, best settings into training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from ensembler.config import RunConfig
from ensembler.training.feature_member import train_feature_member, tuned_entry
from ensembler.tuning.entries import entries_to_tune
from ensembler.tuning.objective import make_tuning_split
from ensembler.tuning.results import fairness_table, load_best_params
from ensembler.tuning.storage import open_storage
from ensembler.tuning.study import tune_entry


def _cfg(**member: Any) -> RunConfig:
    return RunConfig.model_validate({
        "name": "toy-feat-tune", "seed": 11,
        "training": {"inner_val_fraction": 0.25},
        "models": [{"name": "cnn", "arch": "cnn1d"}],
        "feature_members": [{"name": "feat", "lightgbm": {"max_rounds": 40},
                             **member}],
        "tuning": {"archs": ["feat"], "trials": 3, "holdout_fraction": 0.25,
                   "tpe_startup_trials": 2, "n_warmup_steps": 0},
    })


RANGES = {"learning_rate": (0.01, 0.3), "num_leaves": (4, 64), "min_child_samples": (5, 100),
          "feature_fraction": (0.2, 1.0), "reg_lambda": (1e-3, 10.0)}


def test_feature_member_study_budget_fairness_and_training(tmp_path: Path, cohort,
                                                           split) -> None:
    cfg = _cfg()
    assert entries_to_tune(cfg) == ["feat"]
    out = tune_entry(cfg, cohort, split, tmp_path, "feat", log=None)
    assert out.ran == 3 and out.counted == 3
    study = optuna.load_study(study_name="tune-feat", storage=open_storage(cfg, tmp_path))
    attrs = study.user_attrs
    assert attrs["arch"] == "features:ecg_clinical+lightgbm"
    assert attrs["space"] == "features_lightgbm" and attrs["budget"] == {"kind": "trials",
                                                                          "value": 3}
    # the same tuning split as every network study of the run
    tsplit = make_tuning_split(cfg, cohort.labels, cohort.patient_id, split.fold,
                               cohort.fingerprint)
    assert attrs["split_fingerprint"] == tsplit.fingerprint
    for t in study.trials:
        assert set(t.params) == set(RANGES)
        for name, (lo, hi) in RANGES.items():
            assert lo <= t.params[name] <= hi, name
        assert t.user_attrs["cpu_seconds"] > 0 and t.user_attrs["compute_seconds"] > 0

    table = fairness_table(cfg, tmp_path).set_index("arch")
    feat, cnn = table.loc["feat"], table.loc["cnn"]
    assert feat["tuned"] and feat["budget_met"] and feat["complete"] + feat["pruned"] == 3
    assert feat["model"] == "features:ecg_clinical+lightgbm" and feat["cpu_seconds"] > 0
    assert not cnn["tuned"] and cnn["model"] == "cnn1d"

    tuned = load_best_params(cfg, tmp_path)["feat"]
    best = max(t.value for t in study.trials if t.value is not None)
    assert tuned in [{"lightgbm": {k: t.params[k] for k in RANGES}} for t in study.trials
                     if t.value == best]
    preds = train_feature_member(cfg.feature_members[0], cfg, cohort, split.fold,
                                 split.fingerprint, tmp_path, [], tuned=tuned)
    assert preds.meta.tuned is True
    assert preds.meta.config["lightgbm"]["num_leaves"] == tuned["lightgbm"]["num_leaves"]
    booster = (tmp_path / "base" / "feat" / "fold_0" / "booster_0.txt").read_text()
    assert f"[num_leaves: {tuned['lightgbm']['num_leaves']}]" in booster
    untuned = _cfg(use_tuned=False)
    again = train_feature_member(untuned.feature_members[0], untuned, cohort, split.fold,
                                 split.fingerprint, tmp_path, [], tuned=tuned)
    assert again.meta.tuned is False and again.meta.config["lightgbm"]["num_leaves"] == 15


def test_logistic_member_tunes_C(tmp_path: Path, cohort, split) -> None:
    cfg = _cfg(learner="logistic")
    tune_entry(cfg, cohort, split, tmp_path, "feat", trials=2, log=None)
    tuned = load_best_params(cfg, tmp_path)["feat"]
    assert set(tuned) == {"logistic"} and 1e-3 <= tuned["logistic"]["C"] <= 1e2


def test_config_settings_win_over_tuned_ones() -> None:
    entry = _cfg(lightgbm={"num_leaves": 7}).feature_members[0]
    got = tuned_entry(entry, {"lightgbm": {"num_leaves": 40, "learning_rate": 0.2}})
    assert got.lightgbm.num_leaves == 7 and got.lightgbm.learning_rate == 0.2
    assert got.lightgbm.max_rounds == entry.lightgbm.max_rounds
