"""The features member kind: per-fold LightGBM on a feature set, the predictions contract,
the same inner split rule, resumability, and its place among the stacked members."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from toydata import make_cohort, make_split

from ensembler.config import RunConfig
from ensembler.training import feature_member
from ensembler.training.feature_member import feature_member_latency, train_feature_member
from ensembler.training.metrics import macro_auc
from ensembler.training.predictions import load_all


def _cfg(**entry: object) -> RunConfig:
    return RunConfig.model_validate({
        "seed": 3, "training": {"inner_val_fraction": 0.25},
        "feature_members": [{"name": "feat", "lightgbm": {"max_rounds": 60,
                                                          "min_child_samples": 5}, **entry}],
    })


def test_feature_member_writes_the_contract_and_learns(tmp_path: Path) -> None:
    cohort = make_cohort(n_patients=40, per_patient=2)  # label = a 5 Hz burst in lead I
    split = make_split(cohort, k=3, test_patients=8)
    cfg = _cfg()
    entry = cfg.feature_members[0]
    preds = train_feature_member(entry, cfg, cohort, split.fold, split.fingerprint, tmp_path,
                                 ["age", "sex"])
    dev = split.fold >= 0
    assert preds.oof.shape == (int(dev.sum()), 1)
    assert preds.test_by_fold.shape == (3, int((~dev).sum()), 1)
    preds.validate()
    assert macro_auc(cohort.labels[dev], preds.oof) > 0.8  # lead I's 4-15 Hz power share
    assert set(load_all(tmp_path / "predictions")) == {"feat"}
    meta = preds.meta
    assert meta.kind == "features" and (meta.feature_set or {})["name"] == "ecg_clinical"
    assert (meta.feature_columns or [])[-2:] == ["age", "sex"]
    assert "neurokit2" in (meta.feature_versions or {}) and meta.inference_ms_per_ecg > 0
    boosters = sorted((tmp_path / "base" / "feat" / "fold_0").glob("booster_*.txt"))
    assert [b.name for b in boosters] == ["booster_0.txt"]
    assert boosters[0].read_text().startswith("tree")  # LightGBM's own text format
    lat = feature_member_latency(tmp_path / "base" / "feat" / "fold_0", repeats=2)
    assert set(lat) == {1, 64} and lat[1].p50_ms > (meta.feature_cpu_ms_per_ecg or 0)


def test_resumes_and_refits_only_what_changed(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cohort = make_cohort(n_patients=30, per_patient=2)
    split = make_split(cohort, k=3, test_patients=6)
    cfg = _cfg()
    first = train_feature_member(cfg.feature_members[0], cfg, cohort, split.fold,
                                 split.fingerprint, tmp_path, [])
    calls: list[int] = []
    real = feature_member.fit_learner

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(feature_member, "fit_learner", counting)
    again = train_feature_member(cfg.feature_members[0], cfg, cohort, split.fold,
                                 split.fingerprint, tmp_path, [])
    assert calls == [] and np.array_equal(first.oof, again.oof)
    changed = _cfg(lightgbm={"max_rounds": 30, "min_child_samples": 5})
    train_feature_member(changed.feature_members[0], changed, cohort, split.fold,
                         split.fingerprint, tmp_path, [])
    assert len(calls) == 3  # one refit per fold, features read from the cache
    assert len(list((tmp_path / "features").glob("features-*"))) == 1


def test_member_names_are_unique_across_kinds() -> None:
    with pytest.raises(ValueError, match="must be unique; repeated: cnn"):
        RunConfig.model_validate({"models": [{"name": "cnn", "arch": "cnn1d"}],
                                  "feature_members": [{"name": "cnn"}]})
    with pytest.raises(ValueError, match="learning_rate"):
        RunConfig.model_validate({"feature_members": [{"name": "f",
                                                       "lightgbm": {"learning_rate": 0}}]})
