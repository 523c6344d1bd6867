"""A focused search (``tuning.search_only``): sample only some parameters of an entry's space.

A focused trial samples the named parameters from the same registered ranges the full
space samples (:data:`~ensembler.tuning.spaces.common.TRAINING_RANGES`, the family's
``ranges``, the fusion choices); every other parameter keeps the entry's configured value
(its ``params``, its ``training`` overrides, the global ``training`` section). The tuned
params it returns hold only the searched values and ``"focused": True``, which tells
``expand_entry`` that these searched values win over the entry's configuration (the entry
configured them; searching them means replacing them).

A family parameter is searchable alone when it is a model hyper-parameter itself (a key of
the architecture's registry ``defaults``): cnn1d's ``depth``/``width`` build ``filters`` and
are not. An entry with a user ``search_space`` offers the training parameters and fusion.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import optuna

from ensembler.config import ModelEntry, RunConfig
from ensembler.errors import ConfigError
from ensembler.training.members import resolve_training
from ensembler.tuning.spaces.common import (
    AUGMENT_FIELDS,
    FUSION_CHOICES,
    TRAINING_RANGES,
    suggest_ranges,
)


def _registry_info(entry: ModelEntry) -> dict[str, Any] | None:
    """The registry record of ``entry``'s built-in architecture; None for a user
    architecture or an entry with its own ``search_space``."""
    if entry.search_space or ":" in entry.arch:
        return None
    from base_models import get_model_info

    return dict(get_model_info(entry.arch))


def focus_ranges(entry: ModelEntry) -> dict[str, dict[str, Any]]:
    """Every parameter a focused search can sample for ``entry``, in the full space's
    sampling order (training, then the family's model hyper-parameters, then fusion)."""
    out = {k: dict(v) for k, v in TRAINING_RANGES.items()}
    info = _registry_info(entry)
    if info is not None:
        out.update({k: v for k, v in info["ranges"].items() if k in info["defaults"]})
    if entry.fusion != "none":
        out["fusion"] = {"choices": list(FUSION_CHOICES)}
    return out


def configured_point(cfg: RunConfig, entry: ModelEntry, names: Sequence[str]
                     ) -> dict[str, Any]:
    """The values the untuned member trains with, for the searched ``names`` of ``entry``
    (Optuna parameter names; ConfigError when one lies outside its searched range)."""
    ranges = focus_ranges(entry)
    training = resolve_training(cfg.training, entry.training.overrides())
    info = _registry_info(entry)
    defaults: dict[str, Any] = {} if info is None else info["defaults"]
    point: dict[str, Any] = {}
    for name in [n for n in ranges if n in names]:
        if name in TRAINING_RANGES:
            field = AUGMENT_FIELDS.get(name)
            value = getattr(training.augment, field) if field else getattr(training, name)
        elif name == "fusion":
            value = entry.fusion
        else:
            value = entry.params.get(name, defaults[name])
        r = ranges[name]
        inside = (value in r["choices"] if "choices" in r
                  else float(r["low"]) <= float(value) <= float(r["high"]))
        if not inside:
            raise ConfigError(
                f"tuning.search_only: models[{entry.name}] is configured with {name}={value}, "
                f"outside its searched range {r}; the configured point must be a trial")
        point[name] = value
    return point


def suggest_focused(trial: optuna.trial.BaseTrial, entry: ModelEntry, names: Sequence[str]
                    ) -> dict[str, Any]:
    """Sample the ``names`` of ``entry``'s space (the others: not sampled) as tuned params
    ``{"focused": True, "training": {...}, "model": {...}[, "fusion": ...]}``."""
    ranges = focus_ranges(entry)
    p = suggest_ranges(trial, {k: r for k, r in ranges.items() if k in names})
    training: dict[str, Any] = {k: v for k, v in p.items()
                                if k in TRAINING_RANGES and k not in AUGMENT_FIELDS}
    augment = {AUGMENT_FIELDS[k]: v for k, v in p.items() if k in AUGMENT_FIELDS}
    if augment:
        training["augment"] = augment
    tuned: dict[str, Any] = {"focused": True, "training": training,
                             "model": {k: v for k, v in p.items()
                                       if k not in TRAINING_RANGES and k != "fusion"}}
    if "fusion" in p:
        tuned["fusion"] = p["fusion"]
    return tuned


def check_search_only(cfg: RunConfig, entries: Sequence[Any]) -> list[str]:
    """``tuning.search_only`` validated against the tuned ``entries``: ConfigError when a
    name is in no entry's space (a list), in the named entry's space (a mapping: its keys
    must be searched entries), or a tuned entry is a feature member. Returns the names."""
    only = cfg.tuning.search_only
    if not only:
        return []
    by_name = {e.name: e for e in entries}
    targets = [e for e in entries if not isinstance(only, dict) or e.name in only]
    features = [e.name for e in targets if not isinstance(e, ModelEntry)]
    if features:
        raise ConfigError(
            f"tuning.search_only: applies to network entries; feature members "
            f"{', '.join(features)} are tuned too (leave them out of tuning.archs)")
    if not isinstance(only, dict):
        return _check_names(list(only), targets, "tuning.search_only",
                            "in no tuned entry's space")
    stray = [k for k in only if k not in by_name]
    if stray:
        raise ConfigError(
            f"tuning.search_only: {', '.join(stray)} {'is' if len(stray) == 1 else 'are'} "
            f"not searched here; searched entries: {', '.join(by_name) or 'none'} "
            "(tuning.search)")
    names: list[str] = []
    for key, listed in only.items():
        names += [n for n in _check_names(list(listed), [by_name[key]],
                                          f"tuning.search_only.{key}",
                                          f"not in {key}'s space") if n not in names]
    return names


def effective_search_only(entry: ModelEntry, names: Sequence[str]) -> list[str]:
    """The ``names`` a focused study of ``entry`` really samples (those in its space, in
    sampling order): a global list may name parameters of other entries."""
    return [n for n in focus_ranges(entry) if n in names]


def _check_names(names: list[str], entries: Sequence[ModelEntry], where: str,
                 scope: str) -> list[str]:
    """ConfigError at ``where`` naming the ``names`` in none of ``entries``' spaces (they
    are ``scope``)."""
    valid: list[str] = []
    for e in entries:
        valid += [k for k in focus_ranges(e) if k not in valid]
    unknown = [n for n in names if n not in valid]
    if unknown:
        verb = "is" if len(unknown) == 1 else "are"
        raise ConfigError(f"{where}: {', '.join(unknown)} {verb} {scope}; "
                          f"valid names: {', '.join(valid)}")
    return names
