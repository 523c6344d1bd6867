"""Expanding config model entries into named members (seed and bootstrap replicas)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ensembler.config import ModelEntry, RunConfig, TrainingConfig


@dataclass(frozen=True)
class MemberSpec:
    """Everything needed to train one member's fold models.

    ``name`` is the member name used in file names and meta-feature columns;
    ``replica`` is ("none", 0), ("seed", i) or ("bootstrap", i).
    """

    name: str
    entry: str
    arch: str
    params: dict[str, Any]
    fusion: str
    tabular_names: tuple[str, ...]
    training: TrainingConfig
    replica_kind: Literal["none", "seed", "bootstrap"] = "none"
    replica_index: int = 0
    tuned: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """JSON-able description (also the basis of the job fingerprint)."""
        return {
            "name": self.name,
            "entry": self.entry,
            "arch": self.arch,
            "params": self.params,
            "fusion": self.fusion,
            "tabular_names": list(self.tabular_names),
            "training": self.training.model_dump(mode="json"),
            "replica": [self.replica_kind, self.replica_index],
            "tuned": self.tuned,
        }


def spec_from_description(d: dict[str, Any]) -> MemberSpec:
    """Inverse of :meth:`MemberSpec.describe` (a member's stored ``config``)."""
    kind, index = d.get("replica", ["none", 0])
    return MemberSpec(
        name=d["name"], entry=d.get("entry", d["name"]), arch=d["arch"],
        params=dict(d.get("params", {})), fusion=d.get("fusion", "none"),
        tabular_names=tuple(d.get("tabular_names", [])),
        training=TrainingConfig.model_validate(d["training"]),
        replica_kind=kind, replica_index=int(index), tuned=bool(d.get("tuned", False)),
    )


def resolve_training(base: TrainingConfig, overrides: dict[str, Any]) -> TrainingConfig:
    """``base`` with a member's overrides applied (validated as a TrainingConfig)."""
    merged = base.model_dump()
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return TrainingConfig.model_validate(merged)


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``over``; a nested section (``augment``) merged field by field."""
    out = dict(base)
    for key, value in over.items():
        nested = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = {**out[key], **value} if nested else value
    return out


def expand_entry(
    entry: ModelEntry,
    cfg: RunConfig,
    tabular_names: list[str],
    tuned: dict[str, Any] | None = None,
) -> list[MemberSpec]:
    """One MemberSpec per replica of ``entry``.

    ``tuned`` (from the architecture's Optuna study and the tuning's schedule step)
    holds ``model`` hyper-parameters and ``training`` overrides; config overrides of the
    entry win over tuned values, except ``training.epochs``: only the schedule step tunes
    it, starting from the configured epochs, so its choice wins. Tuned params of a focused
    search (``"focused": True``, ``tuning.search_only``) hold only the searched values, and
    those win over the entry's configuration.
    """
    params = dict(entry.params)
    train_over: dict[str, Any] = {}
    fusion = entry.fusion
    focused = bool(tuned and entry.use_tuned and tuned.get("focused"))
    if tuned and entry.use_tuned:
        params = ({**entry.params, **tuned.get("model", {})} if focused
                  else {**tuned.get("model", {}), **entry.params})
        train_over = dict(tuned.get("training", {}))
        fusion = tuned.get("fusion", fusion) if entry.fusion != "none" else "none"
    scheduled = train_over.get("epochs")
    if focused:  # tuning.search_only: the searched values replace the configured ones
        train_over = _merged(entry.training.overrides(), train_over)
    else:
        train_over.update(entry.training.overrides())
    if scheduled is not None:
        train_over["epochs"] = scheduled
    training = resolve_training(cfg.training, train_over)
    tab = tuple(tabular_names) if fusion != "none" else ()
    common: dict[str, Any] = dict(
        entry=entry.name, arch=entry.arch, params=params, fusion=fusion,
        tabular_names=tab, training=training, tuned=bool(tuned and entry.use_tuned),
    )
    names = entry.member_names()
    if entry.seeds == 1 and entry.bootstrap == 0:
        return [MemberSpec(name=names[0], **common)]
    kinds: list[tuple[Literal["seed", "bootstrap"], int]] = [
        ("seed", i) for i in range(entry.seeds)]
    kinds += [("bootstrap", i) for i in range(entry.bootstrap)]
    return [
        MemberSpec(name=name, replica_kind=kind, replica_index=i, **common)
        for name, (kind, i) in zip(names, kinds, strict=True)
    ]
