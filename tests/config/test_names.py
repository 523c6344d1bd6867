"""Each list of names has one source: the config's choices are the implementation's."""

from __future__ import annotations

from typing import get_args

from ensembler.config.report import ExportConfig
from ensembler.config.stacking import Calibration, Learner, StackingConfig
from ensembler.member_modes import MEMBER_MODES
from stacking import CALIBRATION_METHODS, DEFAULT_LEARNERS, LEARNERS, TRANSFORMS
from stacking.names import SEARCHABLE


def test_config_learners_are_the_searchable_registry_learners() -> None:
    # the config keeps a Literal (cheap to import, listed in the config reference);
    # it must name exactly the learners stacking registers as searchable
    assert get_args(Learner) == SEARCHABLE == DEFAULT_LEARNERS
    assert set(SEARCHABLE) | {"best_single"} == set(LEARNERS)
    assert tuple(StackingConfig().learners) == SEARCHABLE


def test_config_calibration_and_transforms_are_stackings() -> None:
    assert get_args(Calibration) == tuple(CALIBRATION_METHODS)
    assert tuple(StackingConfig().calibration) == tuple(CALIBRATION_METHODS)
    assert tuple(StackingConfig().transforms) == tuple(TRANSFORMS)


def test_member_modes_have_one_source() -> None:
    from ensembler.bundle import run_inputs

    assert run_inputs.MEMBER_MODES is MEMBER_MODES
    assert get_args(ExportConfig.model_fields["members"].annotation) == ("auto", *MEMBER_MODES)


def test_every_searchable_learner_owns_its_space() -> None:
    import optuna

    for name in SEARCHABLE:
        study = optuna.create_study()
        params = LEARNERS[name].suggest_params(study.ask())
        LEARNERS[name](**params)  # the sampled parameters are the learner's own


def test_stacking_reads_each_list_from_one_module() -> None:
    import stacking.calibration
    import stacking.features
    import stacking.learners
    import stacking.names

    assert stacking.features.TRANSFORMS is stacking.names.TRANSFORMS
    assert stacking.calibration.CALIBRATION_METHODS is stacking.names.CALIBRATION_METHODS
    assert stacking.learners.SEARCHABLE is stacking.names.SEARCHABLE
