"""predictions/<member>.json through MemberMeta: one stored spec, a kind, exact round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ensembler.config import TrainingConfig
from ensembler.errors import PredictionsError
from ensembler.training.member_meta import MemberMeta
from ensembler.training.members import MemberSpec
from ensembler.training.predictions import MemberPredictions

SPEC = MemberSpec(name="cnn-s1", entry="cnn", arch="cnn1d", params={"width": 8}, fusion="none",
                  tabular_names=("age",), training=TrainingConfig(), replica_kind="seed",
                  replica_index=1)


def _preds(meta: MemberMeta) -> MemberPredictions:
    rng = np.random.default_rng(0)
    return MemberPredictions(
        name=meta.member, oof=rng.uniform(size=(4, 1)), test_by_fold=rng.uniform(size=(2, 3, 1)),
        dev_record_id=np.array(["a", "b", "c", "d"]), test_record_id=np.array(["e", "f", "g"]),
        fold=np.array([0, 1, 0, 1]), class_names=["MI"], meta=meta)


def test_network_meta_round_trips_and_gives_back_the_spec(tmp_path: Path) -> None:
    meta = MemberMeta(member="cnn-s1", config=SPEC.describe(), n_params=120,
                      best_epoch=[3, 4], train_seconds=[1.5, 2.0], fold_oof_auc=[0.7, None],
                      inference_ms_per_ecg=0.4, seeds=[11, 12], tuned=True)
    _preds(meta).save(tmp_path)
    raw = json.loads((tmp_path / "cnn-s1.json").read_text())
    assert raw["kind"] == "network" and raw["config"] == SPEC.describe()
    assert "external" not in raw and "feature_set" not in raw  # other kinds' fields
    back = MemberPredictions.load(tmp_path / "cnn-s1.npz").meta
    assert back == meta and back.to_json_dict() == raw
    assert back.spec.describe() == SPEC.describe()
    assert back.entry == "cnn" and back.replica == ("seed", 1)


def test_files_without_kind_and_unknown_keys(tmp_path: Path) -> None:
    old = {"member": "ext", "external": "/elsewhere/x.npz", "made_by": "another lab"}
    meta = MemberMeta.from_json_dict(old, "ext.json")
    assert meta.kind == "external" and meta.extra == {"made_by": "another lab"}
    assert MemberMeta.from_json_dict({"member": "cnn"}, "cnn.json").kind == "network"
    with pytest.raises(PredictionsError, match="has no network spec"):
        _ = meta.spec
    with pytest.raises(PredictionsError, match=r"cnn.json.kind: 'tree'"):
        MemberMeta.from_json_dict({"member": "cnn", "kind": "tree"}, "cnn.json")
    with pytest.raises(PredictionsError, match=r"cnn.json.member: missing"):
        MemberMeta.from_json_dict({"kind": "network"}, "cnn.json")
