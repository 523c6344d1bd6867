"""Registry: names, errors, hyper-parameter validation, info, bring-your-own models."""

from __future__ import annotations

import inspect
import json
import textwrap
from pathlib import Path

import pytest
import torch

import base_models
from base_models import (
    DuplicateModelError,
    EcgModel,
    InvalidHParamError,
    ModelInterfaceError,
    UnknownModelError,
    create_model,
    get_model_info,
    list_models,
    register_model,
    resolve_model_fn,
)
from base_models._registry import _REGISTRY

FAMILIES = ["cnn1d", "resnet1d", "xresnet1d", "inception1d", "cnn_lstm", "vit1d", "ts_cnn", "s4d"]


def test_family_and_variant_names_are_registered() -> None:
    names = list_models()
    for name in [*FAMILIES, "fcn_wang", "resnet1d_wang", "xresnet1d50", "xresnet1d101", "s4d_inv"]:
        assert name in names
    assert list_models("xresnet1d*") == [n for n in names if n.startswith("xresnet1d")]
    assert names == sorted(names)


def test_unknown_name_lists_valid_names_readably() -> None:
    with pytest.raises(UnknownModelError) as info:
        create_model("resnet2d", 12, 5)
    assert isinstance(info.value, KeyError)
    message = str(info.value)
    assert message.startswith("unknown model 'resnet2d'") and "resnet1d_wang" in message
    with pytest.raises(UnknownModelError, match="cannot import module 'no_such_module_xyz'"):
        resolve_model_fn("no_such_module_xyz:net")
    with pytest.raises(UnknownModelError, match="has no 'nope'"):
        resolve_model_fn("base_models.cnn1d:nope")


def test_duplicate_registration_raises() -> None:
    with pytest.raises(DuplicateModelError, match=r"already registered; registered: \["):
        register_model(lambda *a, **k: torch.nn.Identity(), name="cnn1d")


def test_unknown_and_invalid_hparams_name_the_parameter() -> None:
    with pytest.raises(InvalidHParamError, match=r"\['widht'\]; valid: .*'width'"):
        create_model("resnet1d_wang", 12, 5, widht=64)
    with pytest.raises(InvalidHParamError, match="'depth'=42"):
        create_model("xresnet1d", 12, 5, depth=42)
    with pytest.raises(InvalidHParamError, match=r"'dropout'=1\.5"):
        create_model("cnn1d", 12, 5, dropout=1.5)
    with pytest.raises(InvalidHParamError, match="'aggregate'='max'"):
        create_model("ts_cnn", 12, 5, aggregate="max")


def test_fusion_argument_validation() -> None:
    with pytest.raises(InvalidHParamError, match="fusion='none'"):
        create_model("cnn1d", 12, 5, n_tabular=3)
    with pytest.raises(InvalidHParamError, match="needs n_tabular > 0"):
        create_model("cnn1d", 12, 5, fusion="late")
    with pytest.raises(InvalidHParamError, match="expected one of"):
        create_model("cnn1d", 12, 5, n_tabular=3, fusion="middle")


def test_every_family_accepts_dropout_and_widths() -> None:
    model = create_model("resnet1d_wang", 12, 5, width=64, dropout=0.3)
    n64 = sum(p.numel() for p in model.parameters())
    assert 100_000 < n64 < 150_000  # the CPU-budget width: about 4x fewer parameters
    for family in FAMILIES:
        create_model(family, 12, 5, dropout=0.25)


@pytest.mark.parametrize("name", list_models())
def test_documented_parameter_count(name: str) -> None:
    info = get_model_info(name)
    model = create_model(name, 12, 5)
    assert isinstance(model, EcgModel)
    assert sum(p.numel() for p in model.parameters()) == info["param_count"]
    assert info["min_length"] == model.min_length >= 1
    with torch.no_grad():  # the default-size model runs at its minimum length
        assert model.eval()(torch.randn(2, 12, model.min_length)).shape == (2, 5)
    assert set(info) >= {"family", "paper", "defaults", "ranges", "min_length", "param_count"}
    assert info["paper"] and info["ranges"]
    # the family's search space (tests/tuning/test_spaces.py: the tuning samples exactly it)
    assert all(set(r) in ({"choices"}, {"low", "high"}, {"low", "high", "log"})
               for r in info["ranges"].values())
    json.dumps(info)  # plain data, storable with a run


def test_pinned_sizes_of_the_published_shapes() -> None:
    assert 400_000 <= get_model_info("resnet1d_wang")["param_count"] <= 500_000  # ~0.44 M
    assert 400_000 <= get_model_info("inception1d")["param_count"] <= 550_000
    assert 250_000 <= get_model_info("fcn_wang")["param_count"] <= 300_000


def _write_user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "user_archs_bm.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn
            from base_models import EcgModel, backbone_in_channels

            class Tiny(nn.Module):
                def __init__(self, c_in, width):
                    super().__init__()
                    self.conv = nn.Conv1d(c_in, width, 5)
                    self.num_features, self.min_length = width, 5
                def forward(self, x):
                    return self.conv(x).mean(-1)

            def tiny(n_leads, n_classes, n_tabular=0, fusion="none", width=8, dropout=0.0):
                c_in = backbone_in_channels(n_leads, n_tabular, fusion)
                return EcgModel(Tiny(c_in, width), n_leads, n_classes, n_tabular, fusion,
                                dropout=dropout)

            class NoHead(nn.Module):
                num_features, min_length = 4, 1
                def forward(self, x, tabular=None):
                    return x.mean(-1)

            def no_head(n_leads, n_classes, n_tabular=0, fusion="none"):
                return NoHead()

            class WrongShape(NoHead):
                def forward_features(self, x, tabular=None):
                    return x.mean(-1)
                def forward_head(self, f, tabular=None):
                    return f

            def wrong_shape(n_leads, n_classes, n_tabular=0, fusion="none"):
                return WrongShape()
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_bring_your_own_module_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_user_module(tmp_path, monkeypatch)
    model = create_model("user_archs_bm:tiny", 12, 3, n_tabular=2, fusion="early", width=6)
    out = model(torch.randn(4, 12, 40), torch.tensor([[1.0, float("nan")]] * 4))
    assert out.shape == (4, 3) and model.num_features == 6
    with pytest.raises(InvalidHParamError, match=r"\['depth'\]; valid: \['dropout', 'width'\]"):
        create_model("user_archs_bm:tiny", 12, 3, depth=2)
    with pytest.raises(ModelInterfaceError, match=r"'user_archs_bm:no_head'.*lacks \['forward_f"):
        create_model("user_archs_bm:no_head", 12, 3)
    with pytest.raises(ModelInterfaceError, match=r"wrong_shape'.*returned \(2, 12\), expected"):
        create_model("user_archs_bm:wrong_shape", 12, 3)


def test_register_your_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base_models._registry, "_REGISTRY", dict(_REGISTRY))

    @register_model(family="mine", paper="my paper")
    def my_fcn(n_leads, n_classes, n_tabular=0, fusion="none", **hparams):
        return create_model("cnn1d", n_leads, n_classes, n_tabular, fusion, **hparams)

    assert "my_fcn" in list_models()
    model = create_model("my_fcn", 12, 2, filters=[8], kernel_sizes=[3])
    assert model(torch.randn(1, 12, 20)).shape == (1, 2)
    info = get_model_info("my_fcn")
    assert info["family"] == "mine" and info["param_count"] > 0


def test_vit_head_divisibility_is_a_hparam_error() -> None:
    with pytest.raises(InvalidHParamError, match="dim=30, heads=4"):
        create_model("vit1d", 12, 5, dim=30, heads=4)


@pytest.mark.parametrize("name", list_models())
def test_model_hparams_describe_what_create_model_accepts(name: str) -> None:
    """Every registered architecture: the names the config loader checks are exactly the
    keywords the builder accepts, typed, and the defaults build on the meta device."""
    from base_models import check_hparam_values, model_hparams

    hparams = model_hparams(name)
    assert hparams is not None and {"dropout", "head_hidden"} <= set(hparams)
    assert all(p.annotation is not inspect.Parameter.empty for p in hparams.values())
    check_hparam_values(name, {})  # defaults are valid
    with pytest.raises(InvalidHParamError, match="not_a_parameter"):
        check_hparam_values(name, {"not_a_parameter": 1})
