"""Feature sets by name, like the architecture registry: register, create, list.

A *feature set* turns one preprocessed ECG ``(leads, samples)`` into a fixed vector of
named, documented columns. Built-in sets are registered here; a user brings one as an
importable ``"module.path:callable"``, which is only imported when the caller explicitly
allows it (``allow_import=True``: a run config that names it; a bundle rebuilds only
registered feature sets unless the loading user allows the import), exactly like
architectures.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ensembler.errors import ConfigError


@dataclass(frozen=True)
class ColumnSpec:
    """One documented column (or, with ``{lead}`` in the name, one column per lead)."""

    name: str  # e.g. "qrs_ms" or "{lead}:st60_mv"
    unit: str  # "ms", "mV", "bpm", "deg", "1", ...
    description: str
    nan_when: str  # when the value is NaN (LightGBM treats NaN as missing)

    def expand(self, lead_names: Sequence[str]) -> list[str]:
        """Concrete column names for ``lead_names``."""
        if "{lead}" not in self.name:
            return [self.name]
        return [self.name.format(lead=lead) for lead in lead_names]


class FeatureSet(Protocol):
    """What a feature set provides (see :class:`ensembler.features.clinical.ClinicalFeatures`)."""

    name: str
    version: str

    def column_specs(self) -> list[ColumnSpec]: ...

    def columns(self, lead_names: Sequence[str]) -> list[str]: ...

    def compute(self, signal: np.ndarray, fs: float, lead_names: Sequence[str]) -> np.ndarray:
        """``signal`` (leads, samples) float, mV -> (n_columns,) float32, NaN allowed."""
        ...

    def spec(self) -> dict[str, Any]:
        """JSON-able identity: name, version, parameters (the cache key and bundle spec)."""
        ...


FeatureSetFactory = Callable[..., FeatureSet]
_REGISTRY: dict[str, FeatureSetFactory] = {}


def register_feature_set(name: str, factory: FeatureSetFactory) -> FeatureSetFactory:
    """Register ``factory(**params) -> FeatureSet`` as ``name``; a duplicate name raises."""
    if name in _REGISTRY:
        raise ConfigError(
            f"feature set {name!r} is already registered; registered: {list_feature_sets()}"
        )
    if ":" in name:
        raise ConfigError(f"feature set name {name!r} must not contain ':'")
    _REGISTRY[name] = factory
    return factory


def list_feature_sets() -> list[str]:
    """Registered feature-set names, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    from ensembler.features import clinical  # noqa: F401  (registers the built-in sets)


def _import_factory(name: str) -> FeatureSetFactory:
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"feature set {name!r}: cannot import module {module_name!r} ({exc})"
        ) from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"feature set {name!r}: module {module_name!r} has no callable {attr!r}")
    return factory  # type: ignore[no-any-return]


def create_feature_set(name: str, allow_import: bool = False, **params: Any) -> FeatureSet:
    """Build feature set ``name`` (registered, or ``"module.path:callable"`` when allowed)."""
    _load_builtins()
    if name in _REGISTRY:
        factory = _REGISTRY[name]
    elif ":" in name and allow_import:
        factory = _import_factory(name)
    elif ":" in name:
        raise ConfigError(
            f"feature set {name!r} is not registered and importing user code was not allowed; "
            "register it, or allow the import explicitly"
        )
    else:
        raise ConfigError(f"unknown feature set {name!r}; registered: {list_feature_sets()}")
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigError(
            f"feature set {name!r}: bad parameters {sorted(params)} ({exc})"
        ) from None
