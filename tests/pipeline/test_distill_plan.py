"""What the distillation stage decides before training: the default student (the best
single member's entry, or the best network member's when that one is a feature member),
the hard-label twin of each student row, and the single-only student's epochs."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from ensembler.config import DistillConfig, RunConfig, TrainingConfig
from ensembler.errors import ConfigError, StageError
from ensembler.pipeline.distill import choose_default_student
from ensembler.pipeline.distill_twin import same_network, single_epochs, twin_rows
from ensembler.training.member_meta import MemberMeta
from ensembler.training.members import MemberSpec
from ensembler.training.predictions import MemberPredictions


def _preds(name: str, oof: np.ndarray, refit: bool = False,
           best_epoch: list[int] | None = None) -> MemberPredictions:
    n = len(oof)
    return MemberPredictions(
        name=name, oof=oof, test_by_fold=np.full((2, 3, 1), 0.5),
        dev_record_id=np.array([f"d{i}" for i in range(n)]),
        test_record_id=np.array(["t0", "t1", "t2"]), fold=np.arange(n) % 2,
        class_names=["COND"], test_refit=np.full((3, 1), 0.5) if refit else None,
        meta=MemberMeta(member=name, best_epoch=best_epoch or [3, 5]))


def test_feature_best_single_falls_back_to_the_best_network_entry() -> None:
    cfg = RunConfig.model_validate({
        "name": "s",
        "models": [{"name": "weak", "arch": "cnn1d"},
                   {"name": "strong", "arch": "resnet1d", "params": {"width": 16},
                    "fusion": "intermediate", "seeds": 2}],
        "feature_members": [{"name": "feats", "feature_set": "ecg_clinical"}]})
    y = np.array([[0], [1], [0], [1], [0], [1]])
    good = np.array([[0.1], [0.9], [0.2], [0.8], [0.3], [0.7]])
    bad = np.array([[0.9], [0.1], [0.2], [0.8], [0.6], [0.3]])
    preds = {"feats": _preds("feats", good), "weak": _preds("weak", bad),
             "strong-s0": _preds("strong-s0", bad), "strong-s1": _preds("strong-s1", good)}
    # best single is a network: its own entry
    assert choose_default_student(cfg.models, "weak", preds, y) == "weak"
    # best single is the feature member: the entry of the best network member (a replica)
    assert choose_default_student(cfg.models, "feats", preds, y) == "strong"
    with pytest.raises(StageError, match="no network member"):
        choose_default_student([], "feats", {"feats": preds["feats"]}, y)


def _spec(**kw: object) -> MemberSpec:
    fields: dict = dict(name="m", entry="m", arch="cnn1d", params={"filters": [8, 8, 8]},
                        fusion="none", tabular_names=(), training=TrainingConfig())
    fields.update(kw)
    return MemberSpec(**fields)


def test_same_network_compares_arch_params_fusion_and_training_not_names() -> None:
    a = _spec()
    assert same_network(a, _spec(name="distilled", entry="distilled:m", replica_kind="seed"))
    assert not same_network(a, _spec(params={"filters": [4, 4, 4]}))
    assert not same_network(a, _spec(arch="resnet1d"))
    assert not same_network(a, _spec(fusion="intermediate", tabular_names=("age",)))
    assert not same_network(a, _spec(training=TrainingConfig(lr=0.01)))


def test_twin_rows_member_trained_or_none() -> None:
    y = np.array([[0], [1], [0], [1]])
    member = _preds("cnn", y * 0.8 + 0.1, refit=True)
    refs = twin_rows("cnn", DistillConfig(), member, trained=False).refs
    assert {k: v.row for k, v in refs.items()} == {"distilled:cnn": "cnn",
                                                  "distilled:cnn:single": "cnn:refit_full"}
    no_refit = twin_rows("cnn", DistillConfig(), _preds("cnn", y * 0.8), trained=False).refs
    assert no_refit["distilled:cnn:single"].row is None
    assert "no refit-full model" in no_refit["distilled:cnn:single"].source
    trained = twin_rows("cnn", DistillConfig(fold_students=False), None, trained=True).refs
    assert {k: v.row for k, v in trained.items()} == {
        "distilled:cnn:single": "hard_twin:cnn:single"}
    never = twin_rows("cnn", DistillConfig(hard_twin="never"), None, trained=False).refs
    assert all(v.row is None and "never" in v.source for v in never.values())


def test_single_only_epochs_from_config_or_the_twin_members_median_best_epoch() -> None:
    member = _preds("cnn", np.full((4, 1), 0.5), best_epoch=[2, 4, 9])
    assert single_epochs(DistillConfig(), member) is None  # fold students: their own epochs
    assert single_epochs(DistillConfig(fold_students=False, epochs=7), member) == 7
    assert single_epochs(DistillConfig(fold_students=False), member) == 4
    with pytest.raises(ConfigError, match=r"distill\.epochs: required"):
        single_epochs(DistillConfig(fold_students=False), None)
    with pytest.raises(ValidationError, match="nothing to train"):
        DistillConfig(fold_students=False, single=False)
