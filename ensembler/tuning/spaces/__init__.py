"""Search spaces: one plain ``suggest_<family>(trial) -> model params`` per architecture family.

The registry maps a ``base_models`` family to its suggest function; a user
architecture brings its own with ``ModelEntry.search_space = "module.path:function"``.
:func:`suggest_member` composes the shared training suggestions, the family's
space and (for fused members) the fusion mode into the tuned-params format that
``ensembler.training.members.expand_entry`` consumes::

    {"model": {...}, "training": {"lr": ..., "augment": {...}}, "fusion": "late"}
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import optuna

from ensembler.config import ModelEntry
from ensembler.errors import ConfigError
from ensembler.tuning.spaces.common import FUSION_CHOICES, suggest_fusion, suggest_training
from ensembler.tuning.spaces.convnets import (
    suggest_cnn1d,
    suggest_inception1d,
    suggest_resnet1d,
    suggest_xresnet1d,
)
from ensembler.tuning.spaces.sequence import (
    suggest_cnn_lstm,
    suggest_s4d,
    suggest_ts_cnn,
    suggest_vit1d,
)

SuggestFn = Callable[[optuna.trial.BaseTrial], dict[str, Any]]

__all__ = [
    "FUSION_CHOICES",
    "SuggestFn",
    "get_space",
    "list_spaces",
    "register_space",
    "space_for_entry",
    "suggest_fusion",
    "suggest_member",
    "suggest_training",
]

_SPACES: dict[str, SuggestFn] = {}


def register_space(family: str, fn: SuggestFn) -> SuggestFn:
    """Register ``fn`` as the search space of ``family``; a duplicate family raises."""
    if family in _SPACES:
        raise ConfigError(
            f"search space for family {family!r} is already registered; registered: "
            f"{list_spaces()}"
        )
    _SPACES[family] = fn
    return fn


def list_spaces() -> list[str]:
    """Families that have a registered search space."""
    return sorted(_SPACES)


def get_space(family: str) -> SuggestFn:
    """The registered suggest function of ``family`` (ConfigError listing them if unknown)."""
    if family not in _SPACES:
        raise ConfigError(
            f"no search space registered for family {family!r}; registered: {list_spaces()}"
        )
    return _SPACES[family]


for _family, _fn in (
    ("cnn1d", suggest_cnn1d),
    ("resnet1d", suggest_resnet1d),
    ("xresnet1d", suggest_xresnet1d),
    ("inception1d", suggest_inception1d),
    ("cnn_lstm", suggest_cnn_lstm),
    ("vit1d", suggest_vit1d),
    ("ts_cnn", suggest_ts_cnn),
    ("s4d", suggest_s4d),
):
    register_space(_family, _fn)


def _import_space(ref: str, where: str) -> SuggestFn:
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{where}: expected 'module.path:function', got {ref!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import module {module_name!r} ({exc})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"{where}: module {module_name!r} has no callable {attr!r}")
    return fn  # type: ignore[no-any-return]


def space_for_entry(entry: ModelEntry) -> tuple[str, SuggestFn]:
    """``(space name, suggest function)`` for a config model entry.

    The entry's own ``search_space`` wins; otherwise the family of ``entry.arch`` in
    the ``base_models`` registry picks the built-in space. A user architecture
    ("module:callable") without a ``search_space`` is a ConfigError: tuning only the
    optimiser of one member while others get their architecture tuned is not fair.
    """
    where = f"models[{entry.name}].search_space"
    if entry.search_space:
        return entry.search_space, _import_space(entry.search_space, where)
    if ":" in entry.arch:
        raise ConfigError(
            f"models[{entry.name}]: user architecture {entry.arch!r} needs a search space; "
            "set search_space: 'module.path:function' (a suggest(trial) -> params function)"
        )
    from base_models import get_model_info

    try:
        family = str(get_model_info(entry.arch)["family"])
    except KeyError as exc:
        raise ConfigError(f"models[{entry.name}].arch: {exc}") from None
    return family, get_space(family)


def suggest_member(
    trial: optuna.trial.BaseTrial, entry: ModelEntry, space: SuggestFn,
    only: Sequence[str] = (),
) -> dict[str, Any]:
    """One full candidate for ``entry`` in the tuned-params format of ``expand_entry``.

    Parameter names are shared across families (``lr``, ``dropout`` ...) so the
    fairness report can compare them; the fusion mode is searched only for entries
    that fuse tabular data (``fusion != "none"``). ``only`` (``tuning.search_only``):
    sample just those parameters, the others keep the entry's configured values
    (:func:`~ensembler.tuning.spaces.focus.suggest_focused`).
    """
    if only:
        from ensembler.tuning.spaces.focus import suggest_focused

        return suggest_focused(trial, entry, only)
    tuned: dict[str, Any] = {"training": suggest_training(trial), "model": dict(space(trial))}
    if entry.fusion != "none":
        tuned["fusion"] = suggest_fusion(trial)
    return tuned
