"""Config loading: typed, validated, errors naming the YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from ensembler.config import load_config
from ensembler.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["quickstart", "ptbxl_superdiag", "ptbxl_mi_binary"])
def test_shipped_configs_load(name: str) -> None:
    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    assert cfg.models and cfg.name == name


def test_quickstart_has_a_feature_member_with_tabular_inputs() -> None:
    cfg = load_config(REPO / "configs" / "quickstart.yaml")
    (feat,) = cfg.feature_members
    assert feat.feature_set == "ecg_clinical" and feat.tabular
    assert feat.name not in {m.name for m in cfg.models}


def test_full_profile_merges() -> None:
    cfg = load_config(REPO / "configs" / "ptbxl_superdiag.yaml", profile="full")
    assert cfg.training.epochs == 50 and cfg.profile == "full"
    assert "xresnet1d101" in [m.arch for m in cfg.models]
    with pytest.raises(ConfigError, match="profile 'gpu' not defined"):
        load_config(REPO / "configs" / "ptbxl_superdiag.yaml", profile="gpu")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_wrong_type_names_the_yaml_path(tmp_path: Path) -> None:
    p = _write(tmp_path, "training:\n  lr: fast\n")
    with pytest.raises(ConfigError, match=r"training\.lr") as err:
        load_config(p)
    assert str(p) in str(err.value)


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"training\.learning_rate"):
        load_config(_write(tmp_path, "training:\n  learning_rate: 0.1\n"))


def test_unknown_architecture_lists_valid_names(tmp_path: Path) -> None:
    text = "models:\n  - {name: a, arch: cnn1d}\n  - {name: b, arch: resnet9}\n"
    with pytest.raises(ConfigError, match=r"models\[1\]\.arch: unknown architecture 'resnet9'"):
        load_config(_write(tmp_path, text))


def test_duplicate_member_names(tmp_path: Path) -> None:
    text = "models:\n  - {name: a, arch: cnn1d}\n  - {name: a, arch: vit1d}\n"
    with pytest.raises(ConfigError, match="unique"):
        load_config(_write(tmp_path, text))


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "a: [1, 2\n"))
