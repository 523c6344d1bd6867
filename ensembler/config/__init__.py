"""Typed run configuration loaded from YAML, validated at load.

Errors name the YAML path of the bad field (``training.lr: ...``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from ensembler.config.base import Section
from ensembler.config.data import (
    DataConfig,
    ManifestConfig,
    PreprocessingConfig,
    PTBXLConfig,
    SplitConfig,
    SyntheticConfig,
    SyntheticEffects,
)
from ensembler.config.distill import DistillConfig
from ensembler.config.features import FeatureMemberEntry, LightGBMParams, LogisticParams
from ensembler.config.issues import Issue, config_error, from_validation_error
from ensembler.config.params import check_models
from ensembler.config.references import check_references, fused_width
from ensembler.config.report import ExportConfig, ReportConfig
from ensembler.config.stacking import StackingConfig
from ensembler.config.training import (
    AugmentConfig,
    ExternalMember,
    ModelEntry,
    TrainingConfig,
)
from ensembler.config.tuning import ScheduleConfig, TuningConfig
from ensembler.errors import ConfigError

__all__ = [
    "AugmentConfig",
    "DataConfig",
    "DistillConfig",
    "ExportConfig",
    "ExternalMember",
    "FeatureMemberEntry",
    "LightGBMParams",
    "LogisticParams",
    "ManifestConfig",
    "ModelEntry",
    "PTBXLConfig",
    "PreprocessingConfig",
    "ReportConfig",
    "RunConfig",
    "ScheduleConfig",
    "SplitConfig",
    "StackingConfig",
    "SyntheticConfig",
    "SyntheticEffects",
    "TrainingConfig",
    "TuningConfig",
    "load_config",
]


class RunConfig(Section):
    """A whole run: data, split, members, tuning, stacking, report and export."""

    name: str = "run"  # run name; the run directory defaults to runs/<name>
    seed: int = 0  # the one seed: splits, initialisation, sampling, studies
    run_dir: str | None = None  # default: runs/<name>
    profile: str | None = None  # set by --profile NAME (a key of profiles)
    data: DataConfig = Field(default_factory=DataConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    # models: base-model entries (see models[] below)
    models: list[ModelEntry] = Field(default_factory=list)
    # external_members: prediction files made elsewhere, stacked as members
    external_members: list[ExternalMember] = Field(default_factory=list)
    # feature_members: ECG-feature members (a feature set + LightGBM or logistic per fold)
    feature_members: list[FeatureMemberEntry] = Field(default_factory=list)
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    stacking: StackingConfig = Field(default_factory=StackingConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    # distill: train one network on a stack's meta-level OOF (null: no distillation stage)
    distill: DistillConfig | None = None
    # profiles: named overrides deep-merged over this config by --profile (all validated at load)
    profiles: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _subgroups_of_the_manifest(cls, raw: Any) -> Any:
        """``report.subgroups`` left out with an own-data manifest: its subgroup columns."""
        if not isinstance(raw, dict):
            return raw
        data, report = raw.get("data"), raw.get("report") or {}
        if not isinstance(data, dict) or data.get("source") != "wfdb":
            return raw
        if not isinstance(report, dict) or "subgroups" in report:
            return raw
        manifest = data.get("manifest")
        columns = manifest.get("subgroup_columns", []) if isinstance(manifest, dict) else []
        return {**raw, "report": {**report, "subgroups": columns}}

    @model_validator(mode="after")
    def _unique_member_names(self) -> RunConfig:
        names = [m.name for m in self.models]
        names += [m.name for m in self.external_members]
        names += [m.name for m in self.feature_members]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError("member names (models, external_members, feature_members) must "
                             "be unique; "
                             f"repeated: {', '.join(dup)}")
        return self

    def resolved_run_dir(self) -> Path:
        return Path(self.run_dir) if self.run_dir else Path("runs") / self.name


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate(raw: dict[str, Any], source: str,
              locate: Callable[[Issue], Issue] = lambda issue: issue) -> RunConfig:
    """Validate one mapping: field types and limits, then architectures and references."""
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        issues = from_validation_error(exc, RunConfig)
        raise config_error(source, [locate(i) for i in issues]) from None
    issues = check_models(cfg.models, fused_width(cfg)) + check_references(cfg)
    if issues:
        raise config_error(source, [locate(i) for i in issues])
    return cfg


def _in_profile(name: str, over: dict[str, Any]) -> Callable[[Issue], Issue]:
    """Name the profile's own YAML path when the bad value comes from the profile."""

    def locate(issue: Issue) -> Issue:
        first = issue.path.split(".", 1)[0].split("[", 1)[0]
        if first in over:
            return Issue(f"profiles.{name}.{issue.path}", issue.message)
        return Issue(issue.path, f"{issue.message} (with profile {name!r})")

    return locate


def config_from_dict(
    raw: dict[str, Any], source: str = "<dict>", profile: str | None = None
) -> RunConfig:
    """Validate a config mapping and every profile of it; return ``profile``'s config.

    ``profile`` deep-merges ``profiles.<name>`` over the mapping. The mapping alone and
    merged with each of its profiles must all be valid, so a typo in a profile that is
    not selected today is refused today. Errors name ``source`` and the YAML path
    (``profiles.full.training.epochs`` for a value that comes from a profile).
    """
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping at the top level, got {type(raw).__name__}"
        )
    chosen = _validate(raw, source)  # also checks that profiles maps names to mappings
    profiles = chosen.profiles
    if profile is not None and profile not in profiles:
        raise ConfigError(
            f"{source}: profile {profile!r} not defined; available: "
            f"{', '.join(map(repr, sorted(profiles))) or 'none'}"
        )
    for name, over in profiles.items():
        cfg = _validate({**_deep_merge(raw, over), "profile": name}, source,
                        _in_profile(name, over))
        if name == profile:
            chosen = cfg
    return chosen


def load_config(
    path: str | Path,
    profile: str | None = None,  # set by --profile NAME (a key of profiles)
    overrides: dict[str, Any] | None = None,
) -> RunConfig:
    """Load and validate a YAML run config.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or a field is invalid; the message
        names the file and the YAML path of each bad field.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    raw = raw or {}
    if overrides:
        raw = _deep_merge(raw, overrides)
    return config_from_dict(raw, source=str(p), profile=profile)

