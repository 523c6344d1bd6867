"""Search spaces: every family has one, every sample builds, FixedTrial rebuilds it."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
import torch

from base_models import create_model, family_ranges, get_model_info, list_models
from ensembler.config import ModelEntry
from ensembler.errors import ConfigError
from ensembler.tuning.spaces import (
    get_space,
    list_spaces,
    register_space,
    space_for_entry,
    suggest_member,
)


def test_every_registered_family_has_a_space() -> None:
    families = {get_model_info(name)["family"] for name in list_models()}
    assert families <= set(list_spaces()), families - set(list_spaces())


@pytest.mark.parametrize("family", list_spaces())
def test_samples_build_and_fixed_trial_rebuilds(family: str) -> None:
    entry = ModelEntry(name="m", arch=family, fusion="late")
    _, space = space_for_entry(entry)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(3):
        trial = study.ask()
        tuned = suggest_member(trial, entry, space)
        study.tell(trial, 0.5)
        assert set(tuned) == {"model", "training", "fusion"}
        assert tuned["fusion"] in ("early", "intermediate", "late")
        model = create_model(family, n_leads=12, n_classes=2, n_tabular=2,
                             fusion=tuned["fusion"], **tuned["model"])
        with torch.no_grad():
            out = model.eval()(torch.randn(2, 12, 100), torch.randn(2, 2))
        assert out.shape == (2, 2)
        rebuilt = suggest_member(optuna.trial.FixedTrial(trial.params), entry, space)
        assert rebuilt == tuned


def _distribution(r: dict[str, Any]) -> optuna.distributions.BaseDistribution:
    if "choices" in r:
        return optuna.distributions.CategoricalDistribution(r["choices"])
    if isinstance(r["low"], int) and isinstance(r["high"], int):
        return optuna.distributions.IntDistribution(r["low"], r["high"], log=r.get("log", False))
    return optuna.distributions.FloatDistribution(r["low"], r["high"], log=r.get("log", False))


@pytest.mark.parametrize("family", list_spaces())
def test_each_space_samples_exactly_the_registry_ranges(family: str) -> None:
    """One source of truth: the registry documents the ranges, the tuning samples them —
    the same names, in the same order, with the same bounds and choices."""
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    get_space(family)(trial)
    ranges = family_ranges(family)
    assert list(trial.distributions) == list(ranges)
    assert trial.distributions == {k: _distribution(r) for k, r in ranges.items()}
    for name in list_models():  # every variant of the family documents these ranges
        if get_model_info(name)["family"] == family:
            assert get_model_info(name)["ranges"] == ranges


def test_unfused_entry_does_not_search_fusion() -> None:
    entry = ModelEntry(name="m", arch="resnet1d_wang")
    name, space = space_for_entry(entry)
    assert name == "resnet1d"
    trial = optuna.create_study().ask()
    assert "fusion" not in suggest_member(trial, entry, space)
    assert "fusion" not in trial.params


def test_user_space_and_errors() -> None:
    user = ModelEntry(name="u", arch="mypkg.models:build", search_space=(
        "ensembler.tuning.spaces.sequence:suggest_vit1d"))
    name, space = space_for_entry(user)
    assert name.endswith(":suggest_vit1d") and "patch_size" in space(optuna.create_study().ask())
    with pytest.raises(ConfigError, match="needs a search space"):
        space_for_entry(ModelEntry(name="u", arch="mypkg.models:build"))
    with pytest.raises(ConfigError, match="cannot import"):
        space_for_entry(ModelEntry(name="u", arch="cnn1d", search_space="no_such_mod:f"))
    with pytest.raises(ConfigError, match="already registered"):
        register_space("cnn1d", get_space("cnn1d"))
    with pytest.raises(ConfigError, match="unknown model"):
        space_for_entry(ModelEntry(name="u", arch="not_a_model"))


def test_shared_and_learner_spaces_sample_their_documented_ranges() -> None:
    """TRAINING_RANGES and LEARNER_RANGES (the docs' tables) are what the spaces sample."""
    from ensembler.tuning.spaces.common import TRAINING_RANGES, suggest_training
    from ensembler.tuning.spaces.features import FEATURE_SPACES, LEARNER_RANGES

    cases = [(suggest_training, TRAINING_RANGES),
             *((FEATURE_SPACES[name], ranges) for name, ranges in LEARNER_RANGES.items())]
    for suggest, ranges in cases:
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
        suggest(trial)
        assert trial.distributions == {k: _distribution(r) for k, r in ranges.items()}
        assert list(trial.distributions) == list(ranges)


def test_range_text() -> None:
    from ensembler.tuning.spaces.reference import describe

    assert describe({"low": 1e-4, "high": 1e-2, "log": True}) == "1e-4–0.01, log"
    assert describe({"low": 2, "high": 4}) == "2–4"
    assert describe({"low": 0.0, "high": 0.75}) == "0.0–0.75"
    assert describe({"choices": [True, False]}) == "true/false"
    assert describe({"choices": ["avg", "concat"]}) == "avg/concat"
    assert describe({"low": 2.5e-3, "high": 10.0}) == "2.5e-3–10.0"
