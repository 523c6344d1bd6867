"""Typed run configuration loaded from YAML, validated at load.

Errors name the YAML path of the bad field (``training.lr: ...``).
"""

from __future__ import annotations

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
from ensembler.config.report import ExportConfig, ReportConfig
from ensembler.config.stacking import StackingConfig
from ensembler.config.training import (
    AugmentConfig,
    ExternalMember,
    ModelEntry,
    TrainingConfig,
)
from ensembler.config.tuning import TuningConfig
from ensembler.errors import ConfigError

__all__ = [
    "AugmentConfig",
    "DataConfig",
    "ExportConfig",
    "ExternalMember",
    "ManifestConfig",
    "ModelEntry",
    "PTBXLConfig",
    "PreprocessingConfig",
    "ReportConfig",
    "RunConfig",
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
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    stacking: StackingConfig = Field(default_factory=StackingConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    # profiles: named overrides deep-merged over this config by --profile
    profiles: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_member_names(self) -> RunConfig:
        names = [m.name for m in self.models] + [m.name for m in self.external_members]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"member names must be unique; repeated: {dup}")
        return self

    def resolved_run_dir(self) -> Path:
        return Path(self.run_dir) if self.run_dir else Path("runs") / self.name


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def config_from_dict(
    raw: dict[str, Any], source: str = "<dict>", profile: str | None = None
) -> RunConfig:
    """Validate a config mapping; ``profile`` deep-merges ``profiles.<name>`` over it."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping at the top level, got {type(raw).__name__}"
        )
    if profile is not None:
        profiles = raw.get("profiles") or {}
        if profile not in profiles:
            raise ConfigError(
                f"{source}: profile {profile!r} not defined; available: {sorted(profiles)}"
            )
        raw = _deep_merge(raw, profiles[profile])
        raw["profile"] = profile
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"{_format_loc(tuple(err['loc']))}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        ]
        raise ConfigError(f"{source}: invalid config\n  " + "\n  ".join(lines)) from None
    _check_architectures(cfg, source)
    return cfg


def _check_architectures(cfg: RunConfig, source: str) -> None:
    """Every ``models[i].arch`` is a registered name or a ``module.path:callable``."""
    if not cfg.models:
        return
    from base_models import list_models

    valid = list_models()
    for i, entry in enumerate(cfg.models):
        if ":" in entry.arch:
            module, _, attr = entry.arch.partition(":")
            if not module or not attr:
                raise ConfigError(f"{source}: models[{i}].arch: expected 'module.path:callable', "
                                  f"got {entry.arch!r}")
        elif entry.arch not in valid:
            raise ConfigError(f"{source}: models[{i}].arch: unknown architecture "
                              f"{entry.arch!r}; valid: {valid}")


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

