"""Trainer speed options: crops from raw records, bf16 autocast rule, equal OOF AUC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from toydata import make_cohort, make_split, tiny_config

from base_models import create_model
from ensembler.errors import ConfigError
from ensembler.training import precision as precision_mod
from ensembler.training.loop import fit_model
from ensembler.training.runner import member_specs, train_members
from ensembler.training.state import FoldState
from ensembler.training.windows import crop_batch, random_crop

CPU = torch.device("cpu")


def test_crop_batch_equals_cropping_standardised_records() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(2.0, 3.0, size=(30, 12, 400)).astype(np.float32)
    rows = np.array([3, 7, 7, 0, 29])  # repeats: bootstrap replicas
    state = FoldState.fit(raw, None, [], seed=1)
    before = random_crop(state.transform_signals(raw[rows]), 100, np.random.default_rng(5))
    after = crop_batch(raw, rows, 100, np.random.default_rng(5), state)
    np.testing.assert_array_equal(after, before)
    full = crop_batch(raw, rows, None, np.random.default_rng(5), state)
    np.testing.assert_array_equal(full, state.transform_signals(raw[rows]))


def test_fold_state_rows_fits_without_copy() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(50, 12, 100)).astype(np.float32) * np.arange(1, 13)[None, :, None]
    rows = np.sort(rng.choice(50, 20, replace=False))
    a = FoldState.fit(raw[rows], None, [], max_records=8, seed=3)
    b = FoldState.fit(raw, None, [], max_records=8, seed=3, rows=rows)
    assert a == b


def test_autocast_rule() -> None:
    bf16 = frozenset({"avx2", "avx512_bf16"})
    plain = frozenset({"avx2", "avx512f"})
    rule = precision_mod.autocast_dtype
    assert rule("fp32", CPU, 500.0, bf16) is None
    assert rule("bf16", CPU, 1.0, plain) is torch.bfloat16
    assert rule("auto", torch.device("cuda"), None, plain) is torch.bfloat16
    assert rule("auto", CPU, 500.0, plain) is None  # never assumed
    assert rule("auto", CPU, 500.0, frozenset({"amx_bf16"})) is torch.bfloat16
    assert rule("auto", CPU, 4.0, bf16) is None  # light networks lose in bf16
    with pytest.raises(ValueError, match=r"training\.precision"):
        rule("fp16", CPU, 1.0, bf16)


def test_forward_mflop_separates_heavy_and_light_networks() -> None:
    heavy = create_model("resnet1d", n_leads=12, n_classes=5, width=64)
    light = create_model("vit1d", n_leads=12, n_classes=5, patch_size=10, dim=64, depth=2,
                         heads=4)
    heavy.train()
    assert precision_mod.forward_mflop(heavy, 12, 250, 0) > precision_mod.CPU_BF16_MIN_MFLOP
    assert heavy.training  # restored
    assert precision_mod.forward_mflop(light, 12, 250, 0) < precision_mod.CPU_BF16_MIN_MFLOP


def test_config_rejects_unknown_precision() -> None:
    with pytest.raises((ConfigError, ValueError), match="precision"):
        tiny_config(precision="fp16")


@pytest.mark.parametrize(("has_bf16", "expect"), [(True, "bf16 autocast"), (False, "fp32")])
def test_fit_model_auto_precision_follows_cpu(monkeypatch, has_bf16: bool, expect: str) -> None:
    monkeypatch.setattr(precision_mod, "cpu_has_bf16", lambda flags=None: has_bf16)
    cohort = make_cohort(n_patients=8)
    cfg = tiny_config(epochs=1, device="cpu")
    cfg.models[0].params = {}  # cnn1d at its default width: heavy enough for bf16
    spec = member_specs(cfg, cohort)[0]
    lines: list[str] = []
    fit_model(spec, cohort.signals, cohort.labels, None, cohort.fs, np.arange(16), None,
              seed=0, log=lines.append)
    assert f"precision {expect} on cpu" in lines[0]


@pytest.mark.slow
def test_bf16_training_keeps_oof_auc(tmp_path: Path) -> None:
    """Forced bf16 autocast vs fp32 on the toy cohort: dev OOF AUC equal within noise."""
    cohort = make_cohort(n_patients=64)
    split = make_split(cohort)
    dev = split.fold >= 0
    aucs = {}
    for prec in ("fp32", "bf16"):
        cfg = tiny_config(epochs=4, lr=1e-2, precision=prec, device="cpu")
        summary = train_members(cfg, cohort, split, tmp_path / prec,
                                member_specs(cfg, cohort), verbose=False)
        aucs[prec] = roc_auc_score(cohort.labels[dev, 0], summary.predictions["cnn"].oof[:, 0])
    # ~110 dev records: the AUC's bootstrap standard error is about 0.03
    assert aucs["fp32"] > 0.75 and abs(aucs["bf16"] - aucs["fp32"]) < 0.06, aucs
