"""Bad configs are refused at load, one line naming the file and the YAML path."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from ensembler.config import RunConfig, config_from_dict, load_config
from ensembler.errors import ConfigError, EnsemblerError
from ensembler.training.members import expand_entry
from ensembler.training.runner import member_specs

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
SRC = "configs/x.yaml"


def _profiles(path: Path) -> list[str | None]:
    return [None, *(yaml.safe_load(path.read_text()).get("profiles") or {})]


@pytest.mark.parametrize(
    ("path", "profile"),
    [(p, prof) for p in CONFIGS for prof in _profiles(p)],
    ids=lambda v: v.stem if isinstance(v, Path) else str(v),
)
def test_every_shipped_config_loads_with_every_profile(path: Path, profile: str | None) -> None:
    cfg = load_config(path, profile=profile)
    assert cfg.models and cfg.profile == profile


def _refused(raw: dict[str, Any], profile: str | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw, SRC, profile=profile)
    assert isinstance(err.value, EnsemblerError) and isinstance(err.value, ValueError)
    text = str(err.value)
    assert text.startswith(f"{SRC}: ") and "\n" not in text
    for noise in ("validation error", "errors.pydantic.dev", "Traceback", "np.", "Value error"):
        assert noise not in text
    return text


def _entry(**kw: Any) -> dict[str, Any]:
    return {"models": [{"name": "a", "arch": "resnet1d", **kw}]}


# --- models[i].training: a typed override of TrainingConfig -------------------------------

def test_member_training_wrong_type_names_the_path() -> None:
    text = _refused(_entry(training={"lr": "fast"}))
    assert text.startswith(f"{SRC}: models[0].training.lr: Input should be a valid number")
    assert "(got 'fast')" in text


def test_member_training_unknown_key_lists_the_fields() -> None:
    text = _refused(_entry(training={"lernrate": 1}))
    assert "models[0].training.lernrate: unknown field; valid: epochs, batch_size, lr," in text


def test_member_training_limits_and_null_follow_training() -> None:
    assert "models[0].training.epochs: Input should be greater than or equal to 1" in \
        _refused(_entry(training={"epochs": 0}))
    assert "models[0].training.epochs: Input should be a valid integer" in \
        _refused(_entry(training={"epochs": None}))
    assert "models[0].training.augment.noise: unknown field" in \
        _refused(_entry(training={"augment": {"noise": 0.1}}))


def test_member_training_overrides_only_what_is_given() -> None:
    raw = {"training": {"lr": 0.01, "grad_clip": 2.0, "augment": {"amplitude_scale": 0.2}},
           **_entry(training={"grad_clip": None, "augment": {"noise_std": 0.05}})}
    cfg = config_from_dict(raw)
    given = {"grad_clip": None, "augment": {"noise_std": 0.05}}
    assert cfg.models[0].training.overrides() == given
    assert cfg.model_dump(mode="json")["models"][0]["training"] == given
    again = config_from_dict(cfg.model_dump(mode="json"))  # config.resolved.yaml round trip
    assert again.models[0].training.overrides() == given
    spec = expand_entry(cfg.models[0], cfg, [])[0]
    assert spec.training.grad_clip is None and spec.training.lr == 0.01
    assert spec.training.augment.noise_std == 0.05
    assert spec.training.augment.amplitude_scale == 0.2  # the rest of augment stays
    assert RunConfig.model_validate(_entry()).model_dump()["models"][0]["training"] == {}


# --- models[i].params against the architecture's constructor -----------------------------

def test_unknown_param_names_the_architecture_and_valid_ones() -> None:
    text = _refused(_entry(params={"widht": 64}))
    assert text.startswith(f"{SRC}: models[0].params.widht: unknown parameter of resnet1d "
                           "(did you mean 'width'?); valid: width, layers, kernel_sizes,")
    assert "dropout" in text  # the head's hyper-parameters are valid too


def test_param_of_the_wrong_type() -> None:
    text = _refused(_entry(params={"width": "wide"}))
    assert "models[0].params.width: Input should be a valid integer (got 'wide'; width is int)" \
        in text
    assert "models[0].params.layers[1]: Input should be a valid integer (got 'x'" in \
        _refused(_entry(params={"layers": [1, "x"]}))
    assert "models[0].params.width: Input should be a valid integer (got 64.5" in \
        _refused(_entry(params={"width": 64.5}))


def test_param_out_of_range_is_refused_by_the_architecture() -> None:
    text = _refused({"models": [{"name": "x", "arch": "xresnet1d", "params": {"depth": 42}}]})
    assert "models[0].params.depth: hyper-parameter 'depth'=42: expected one of" in text


def test_valid_params_load() -> None:
    cfg = config_from_dict(_entry(params={"width": 32, "layers": [1, 2], "dropout": 0.1}))
    assert cfg.models[0].params == {"width": 32, "layers": [1, 2], "dropout": 0.1}


def test_newly_registered_architecture_is_checked_without_config_changes() -> None:
    import base_models
    from base_models._registry import _REGISTRY

    def tiny_net(n_leads: int, n_classes: int, n_tabular: int = 0, fusion: str = "none",
                 width: int = 8) -> Any:
        raise AssertionError("never built by the config loader")

    base_models.register_model(tiny_net, name="tiny_net_for_config_test")
    try:
        raw = {"models": [{"name": "t", "arch": "tiny_net_for_config_test",
                           "params": {"width": 4}}]}
        assert config_from_dict(raw).models[0].params == {"width": 4}
        raw["models"][0]["params"] = {"depht": 2}
        assert "unknown parameter of tiny_net_for_config_test; valid: width" in _refused(raw)
        raw["models"][0]["params"] = {"width": "4"}
        assert "models[0].params.width: Input should be a valid integer" in _refused(raw)
    finally:
        del _REGISTRY["tiny_net_for_config_test"]


def test_user_architecture_is_not_imported_by_the_loader(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "imported.txt"
    (tmp_path / "evil_arch_mod.py").write_text(textwrap.dedent(f"""
        from pathlib import Path
        Path({str(marker)!r}).write_text("imported")

        def net(n_leads, n_classes, n_tabular=0, fusion="none", width: int = 8):
            raise AssertionError
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    raw = {"models": [{"name": "u", "arch": "evil_arch_mod:net", "params": {"widht": 1}}]}
    cfg = config_from_dict(raw)  # not imported: its parameters are checked at training
    assert not marker.exists() and "evil_arch_mod" not in sys.modules
    try:
        with pytest.raises(ConfigError, match=r"^config: models\[0\]\.params\.widht: unknown "
                                              r"parameter of evil_arch_mod:net"):
            member_specs(cfg, SimpleNamespace(tabular_names=[]))  # type: ignore[arg-type]
        assert marker.exists()  # the training stage imports it (before any model is trained)
        # now imported in this process: the loader checks it too
        assert "models[0].params.widht: unknown parameter of evil_arch_mod:net" in _refused(raw)
        raw["models"][0]["arch"] = "evil_arch_mod:nope"
        assert "models[0].arch: user model 'evil_arch_mod:nope'" in _refused(raw)
    finally:
        sys.modules.pop("evil_arch_mod", None)


# --- every profile validated; paths inside profiles ------------------------------------

def test_unselected_profile_is_validated() -> None:
    raw = {**_entry(), "profiles": {"full": {"trainng": {"epochs": 3}}}}
    text = _refused(raw)  # no --profile given: the typo is still refused
    assert text.startswith(f"{SRC}: profiles.full.trainng: unknown field "
                           "(did you mean 'training'?)")


def test_error_inside_a_profile_names_the_profile_path() -> None:
    raw = {**_entry(), "profiles": {"gpu": {"training": {"epochs": 0}}, "ok": {}}}
    assert "profiles.gpu.training.epochs: Input should be greater than or equal to 1" in \
        _refused(raw, profile="ok")
    raw = {**_entry(), "profiles": {"gpu": {"models": [{"name": "b", "arch": "resnet1d",
                                                        "params": {"widht": 1}}]}}}
    assert "profiles.gpu.models[0].params.widht: unknown parameter" in _refused(raw)


def test_error_from_the_base_under_a_profile_says_which_profile() -> None:
    raw = {**_entry(), "tuning": {"archs": ["a"]},
           "profiles": {"small": {"models": [{"name": "b", "arch": "cnn1d"}]}}}
    text = _refused(raw)
    assert ("tuning.archs[0]: unknown model entry or feature member 'a'; the entries are: b "
            "(with profile 'small')") in text


def test_profiles_must_be_mappings() -> None:
    assert "profiles.full: Input should be a valid dictionary (got 3)" in \
        _refused({"profiles": {"full": 3}})
    assert f"{SRC}: profile 'gpu' not defined; available: 'full'" == \
        _refused({"profiles": {"full": {}}}, profile="gpu")


# --- cross-references -------------------------------------------------------------------

def test_tuning_archs_must_be_model_entries() -> None:
    text = _refused({**_entry(), "tuning": {"archs": ["resnet1d_wang"]}})
    assert ("tuning.archs[0]: unknown model entry or feature member 'resnet1d_wang'; the "
            "entries are: a") in text


def test_tuning_archs_may_name_feature_members() -> None:
    raw = {**_entry(), "feature_members": [{"name": "feat"}], "tuning": {"archs": ["feat", "fet"]}}
    text = _refused(raw)
    assert "tuning.archs[1]: unknown model entry or feature member 'fet'" in text
    assert "the entries are: a, feat" in text and "archs[0]" not in text


def test_data_efficiency_members_follow_replicas() -> None:
    raw = {**_entry(seeds=2), "report": {"data_efficiency": ["a"]}}
    assert "report.data_efficiency[0]: unknown network member 'a'" in _refused(raw)
    raw["report"]["data_efficiency"] = ["a-s1"]
    assert config_from_dict(raw).report.data_efficiency == ["a-s1"]


def test_mode_evidence_names_network_or_feature_members() -> None:
    raw = {**_entry(seeds=2), "feature_members": [{"name": "feat"}],
           "export": {"mode_evidence": ["a-s1", "feat", "a"]}}
    text = _refused(raw)
    assert "export.mode_evidence[2]: unknown network or feature member 'a'" in text
    assert "[0]" not in text and "[1]" not in text
    raw["export"]["mode_evidence"] = ["a-s1", "feat"]
    assert config_from_dict(raw).export.mode_evidence == ["a-s1", "feat"]
    for bad in ([1.0], [0.0], []):  # 100 % is the member's own OOF, not a share to retrain
        text = _refused({"export": {"mode_evidence_fractions": bad}})
        assert "export.mode_evidence_fractions" in text


def test_export_stack_must_be_a_stack_of_the_run() -> None:
    text = _refused({"export": {"stack": "joint"}})
    assert "export.stack: unknown stack 'joint' (did you mean 'joint_stack'?)" in text
    no_lgbm = {"stacking": {"learners": ["logistic", "mean"]},
               "export": {"stack": "tuned_lightgbm"}}
    assert "export.stack: unknown stack 'tuned_lightgbm'" in _refused(no_lgbm)
    assert config_from_dict({"export": {"stack": "greedy"}}).export.stack == "greedy"


def test_passthrough_and_data_tabular_columns_exist_in_the_source() -> None:
    assert "stacking.passthrough[1]: unknown tabular column 'bmi'; the synthetic source " \
           "has: age, sex, pacemaker" in _refused({"stacking": {"passthrough": ["age", "bmi"]}})
    ptbxl = {"data": {"source": "ptbxl"}, "stacking": {"passthrough": ["height"]}}
    assert config_from_dict(ptbxl).stacking.passthrough == ["height"]
    assert "data.tabular[0]: unknown tabular column 'height'" in \
        _refused({"data": {"tabular": ["height"]}})


def test_subgroup_columns_exist_in_the_source() -> None:
    assert "report.subgroups[0]: unknown subgroup column 'sexx' (did you mean 'sex'?); " \
           "the synthetic source has: sex, age_band, paced" in \
        _refused({"report": {"subgroups": ["sexx"]}})


def test_manifest_columns_and_subgroup_default() -> None:
    manifest = {"path": "x.csv", "label_columns": ["y"], "tabular_columns": ["age"],
                "subgroup_columns": ["site"]}
    raw: dict[str, Any] = {"data": {"source": "wfdb", "manifest": manifest}}
    assert config_from_dict(raw).report.subgroups == ["site"]  # default: the manifest's
    assert "report.subgroups[0]: unknown subgroup column 'sex'; the manifest has: site" in \
        _refused({**raw, "report": {"subgroups": ["sex"]}})
    assert "stacking.passthrough[0]: unknown tabular column 'sex'; the manifest has: age" in \
        _refused({**raw, "stacking": {"passthrough": ["sex"]}})


def test_fusion_needs_tabular_columns() -> None:
    raw = {"data": {"tabular": []}, **_entry(fusion="late")}
    assert "models[0].fusion: 'late' fusion needs tabular columns" in _refused(raw)


def test_several_problems_are_listed_on_one_line() -> None:
    text = _refused({"training": {"lr": "fast"}, "report": {"subgroups": ["sexx"]},
                     "split": {"n_folds": 1}})
    assert text.startswith(f"{SRC}: 2 problems: ")  # field errors first, then references
    assert "training.lr" in text and "split.n_folds" in text


def test_top_level_problem_has_no_empty_path() -> None:
    raw = {"models": [{"name": "a", "arch": "cnn1d"}, {"name": "a", "arch": "vit1d"}]}
    assert _refused(raw) == (f"{SRC}: member names (models, external_members, "
                             "feature_members) must be unique; repeated: a")
