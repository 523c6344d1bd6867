"""The model registry (timm-style): ``register_model``, ``create_model``, ``list_models``.

A registered *builder* has the signature
``fn(n_leads, n_classes, n_tabular=0, fusion="none", **hparams) -> nn.Module`` and returns
a module with the ``EcgModel`` interface. Built-in families register their variants with
:func:`register_variant`, which turns a backbone class and default hyper-parameters into
such a builder. Users may register their own builders, or name one in a config as
``"module.path:callable"`` (validated by a dummy forward pass).
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
import inspect
import sys
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

import torch
from torch import nn

from base_models.errors import (
    DuplicateModelError,
    InvalidHParamError,
    ModelInterfaceError,
    UnknownModelError,
    UntrustedModelError,
)
from base_models.fusion import EcgModel, backbone_in_channels, check_fusion
from base_models.layers import check_int

ModelFn = Callable[..., nn.Module]
#: tuning range of one hyper-parameter: {"low", "high"[, "log"]} or {"choices"}
Ranges: TypeAlias = Mapping[str, Mapping[str, Any]]
F = TypeVar("F", bound=ModelFn)

#: hyper-parameters every family accepts, handled by :class:`EcgModel`.
HEAD_HPARAMS: dict[str, Any] = {"dropout": 0.0, "head_hidden": 0, "tabular_hidden": 32}


@dataclass(frozen=True)
class ModelSpec:
    """Registry entry: the builder and what ``get_model_info`` documents about it."""

    name: str
    fn: ModelFn
    family: str
    paper: str
    defaults: Mapping[str, Any]
    ranges: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    param_count: int | None = None  # documented, at 12 leads / 5 classes / no tabular
    builtin: bool = False
    backbone: type[nn.Module] | None = None  # built-in variants: the backbone class


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    fn: F | None = None,
    *,
    name: str | None = None,
    family: str | None = None,
    paper: str = "",
    defaults: Mapping[str, Any] | None = None,
    ranges: Mapping[str, Mapping[str, Any]] | None = None,
    param_count: int | None = None,
    _builtin: bool = False,
    _backbone: type[nn.Module] | None = None,
) -> Any:
    """Register a builder under ``name`` (default: ``fn.__name__``); usable as a decorator.

    ``@register_model`` or ``@register_model(family="mine", paper="...")``. A duplicate
    name raises :class:`DuplicateModelError` listing the registered names.
    """

    def _register(f: F) -> F:
        key = name or f.__name__
        if key in _REGISTRY:
            raise DuplicateModelError(
                f"model {key!r} is already registered; registered: {list_models()}"
            )
        if ":" in key:
            raise DuplicateModelError(f"model name {key!r} must not contain ':'")
        sig_defaults = {
            p.name: p.default
            for p in inspect.signature(f).parameters.values()
            if p.default is not inspect.Parameter.empty and p.name not in ("n_tabular", "fusion")
        }
        _REGISTRY[key] = ModelSpec(
            name=key,
            fn=f,
            family=family or key,
            paper=paper,
            defaults=dict(defaults) if defaults is not None else sig_defaults,
            ranges=dict(ranges or {}),
            param_count=param_count,
            builtin=_builtin,
            backbone=_backbone,
        )
        return f

    return _register(fn) if fn is not None else _register


def build_model(
    backbone_cls: type[nn.Module],
    name: str,
    n_leads: int,
    n_classes: int,
    n_tabular: int,
    fusion: str,
    defaults: Mapping[str, Any],
    hparams: Mapping[str, Any],
) -> EcgModel:
    """Build ``EcgModel(backbone_cls(in_channels, **backbone hparams), **head hparams)``.

    Unknown hyper-parameters raise :class:`InvalidHParamError` naming them and the valid ones.
    """
    valid = set(_keywords(backbone_cls.__init__, _BACKBONE_FIXED) or {}) | set(HEAD_HPARAMS)
    unknown = sorted(set(hparams) - valid)
    if unknown:
        raise InvalidHParamError(
            f"model {name!r}: unknown hyper-parameter(s) {unknown}; valid: {sorted(valid)}"
        )
    params = {**defaults, **hparams}
    head = {k: params.pop(k, v) for k, v in HEAD_HPARAMS.items()}
    check_int("n_leads", n_leads)
    check_fusion(n_tabular, fusion)
    backbone = backbone_cls(in_channels=backbone_in_channels(n_leads, n_tabular, fusion), **params)
    return EcgModel(backbone, n_leads, n_classes, n_tabular, fusion, **head)


#: arguments the framework passes itself: never hyper-parameters
_BACKBONE_FIXED = frozenset({"self", "in_channels"})
_BUILDER_FIXED = frozenset({"n_leads", "n_classes", "n_tabular", "fusion"})


def _keywords(fn: Callable[..., Any], fixed: frozenset[str]) -> dict[str, inspect.Parameter] | None:
    """``fn``'s parameters other than ``fixed``, annotations resolved to type hints.

    ``None`` when ``fn`` takes ``**kwargs`` (any keyword may be valid). A hint that
    cannot be resolved (a name only known to a type checker) stays unannotated.
    """
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an unresolvable forward reference: names are still checked
        hints = {}
    return {
        n: p.replace(annotation=hints.get(n, inspect.Parameter.empty))
        for n, p in params.items()
        if n not in fixed and p.kind is not inspect.Parameter.VAR_POSITIONAL
    }


def model_hparams(name: str) -> dict[str, inspect.Parameter] | None:
    """The keyword hyper-parameters ``create_model(name, ...)`` accepts, by name.

    Each :class:`inspect.Parameter` carries the resolved type hint as ``annotation``
    (``inspect.Parameter.empty`` when unannotated). Built-in variants: the backbone
    constructor's keywords plus the head's (:data:`HEAD_HPARAMS`), defaults as
    registered; other builders: their keywords after ``(n_leads, n_classes, n_tabular,
    fusion)``. ``None`` when the builder takes ``**kwargs``. A ``"module.path:callable"``
    is resolved with :func:`resolve_model_fn`, which imports its module.
    """
    spec = _REGISTRY.get(name)
    if spec is not None and spec.backbone is not None:
        own = _keywords(spec.backbone.__init__, _BACKBONE_FIXED) or {}
        head = _keywords(EcgModel.__init__, _BACKBONE_FIXED) or {}
        out = {**own, **{k: head[k] for k in HEAD_HPARAMS}}
        return {k: p.replace(default=spec.defaults.get(k, p.default)) for k, p in out.items()}
    return _keywords(resolve_model_fn(name), _BUILDER_FIXED)


def user_module_imported(name: str) -> bool:
    """Whether ``"module.path:callable"``'s module is already imported (no code would run)."""
    module, _, _ = name.partition(":")
    return module in sys.modules


def check_hparam_values(name: str, hparams: Mapping[str, Any], n_tabular: int = 0,
                        fusion: str = "none") -> None:
    """Build built-in variant ``name`` on torch's meta device: every constructor check runs
    (ranges, choices, lengths), no memory is allocated and no forward pass is made.

    Raises :class:`InvalidHParamError` (or another :class:`BaseModelsError`) as
    :func:`create_model` would; other names are not built (their code is the user's).
    """
    spec = _REGISTRY.get(name)
    if spec is None or not spec.builtin:
        return
    with torch.device("meta"):
        spec.fn(12, 1, n_tabular=n_tabular, fusion=fusion, **hparams)


def register_variant(
    name: str,
    backbone_cls: type[nn.Module],
    *,
    family: str,
    paper: str,
    defaults: Mapping[str, Any],
    ranges: Mapping[str, Mapping[str, Any]],
    param_count: int,
) -> ModelFn:
    """Register a built-in variant: ``backbone_cls`` with ``defaults`` overriding its own."""
    sig = inspect.signature(backbone_cls.__init__)
    full_defaults = {
        **{
            p.name: p.default
            for p in sig.parameters.values()
            if p.default is not inspect.Parameter.empty
        },
        **HEAD_HPARAMS,
        **defaults,
    }

    def builder(
        n_leads: int, n_classes: int, n_tabular: int = 0, fusion: str = "none", **hparams: Any
    ) -> EcgModel:
        return build_model(
            backbone_cls, name, n_leads, n_classes, n_tabular, fusion, defaults, hparams
        )

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = f"{name}: {family} ({paper}). Defaults: {full_defaults}."
    register_model(
        builder,
        name=name,
        family=family,
        paper=paper,
        defaults=full_defaults,
        ranges=ranges,
        param_count=param_count,
        _builtin=True,
        _backbone=backbone_cls,
    )
    return builder


def family_ranges(family: str) -> dict[str, dict[str, Any]]:
    """The tuning ranges of a built-in ``family`` (every variant of a family has the same)."""
    found = [spec.ranges for spec in _REGISTRY.values() if spec.builtin and spec.family == family]
    if not found:
        families = sorted({s.family for s in _REGISTRY.values() if s.builtin})
        raise UnknownModelError(f"no built-in family {family!r}; families: {families}")
    if any(r != found[0] for r in found[1:]):
        raise DuplicateModelError(f"the variants of family {family!r} disagree on their "
                                  "tuning ranges; a family has one search space")
    return {k: dict(v) for k, v in found[0].items()}


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted registered names, optionally filtered by a shell-style ``pattern`` ("*resnet*")."""
    names = sorted(_REGISTRY)
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


def is_registered(name: str) -> bool:
    """Whether ``name`` is a registered architecture (building it imports nothing new)."""
    return name in _REGISTRY


def check_allowed(name: str, allow_user: Collection[str] | None = None) -> None:
    """Raise unless ``name`` may be built without importing code the caller did not allow.

    Registered names always pass. A ``"module.path:callable"`` passes when
    ``allow_user`` is None (the caller's own configuration names it) or lists it
    exactly; otherwise :class:`UntrustedModelError` is raised *before* any import.
    """
    if name in _REGISTRY:
        return
    if ":" not in name:
        raise UnknownModelError(
            f"unknown model {name!r}; registered: {list_models()} "
            "(or give a user architecture as 'module.path:callable')"
        )
    if allow_user is not None and name not in allow_user:
        raise UntrustedModelError(
            f"user architecture {name!r} is not registered and was not allowed; it is not "
            f"imported (allow it explicitly, e.g. --allow-arch {name}, only if you trust "
            "that code)"
        )


def resolve_model_fn(name: str, allow_user: Collection[str] | None = None) -> ModelFn:
    """The builder for a registered ``name`` or an importable ``"module.path:callable"``.

    ``allow_user``: see :func:`check_allowed` (None: any user architecture may be imported).
    """
    check_allowed(name, allow_user)
    if name in _REGISTRY:
        return _REGISTRY[name].fn
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownModelError(
            f"user model {name!r}: cannot import module {module_name!r} ({exc})"
        ) from exc
    fn = getattr(module, attr, None)
    if fn is None:
        raise UnknownModelError(f"user model {name!r}: module {module_name!r} has no {attr!r}")
    if not callable(fn):
        raise ModelInterfaceError(f"user model {name!r}: {attr!r} is not callable")
    return fn  # type: ignore[no-any-return]


def create_model(
    name: str,
    n_leads: int,
    n_classes: int,
    n_tabular: int = 0,
    fusion: str = "none",
    *,
    allow_user: Collection[str] | None = None,
    **hparams: Any,
) -> nn.Module:
    """Build model ``name`` for ``(B, n_leads, T)`` input and ``n_classes`` logits.

    Args:
        name: a registered name (see :func:`list_models`) or ``"module.path:callable"``.
        n_leads: input leads (channels).
        n_classes: output logits.
        n_tabular: tabular columns (0: none); requires ``fusion != "none"`` when > 0.
        fusion: "none", "early", "intermediate" or "late".
        allow_user: user architectures that may be imported (None: any; a bundle loader
            passes only what the loading user allowed, see :func:`check_allowed`).
        **hparams: family hyper-parameters (see :func:`get_model_info`); every family
            accepts ``dropout`` (head dropout).

    Returns:
        an ``nn.Module`` with ``forward(x, tabular=None) -> (B, n_classes)``,
        ``forward_features``, ``forward_head``, ``num_features`` and ``min_length``.
    """
    check_int("n_leads", n_leads)
    check_int("n_classes", n_classes)
    check_fusion(n_tabular, fusion)
    fn = resolve_model_fn(name, allow_user)
    spec = _REGISTRY.get(name)
    if spec is not None and spec.builtin:
        return fn(n_leads, n_classes, n_tabular=n_tabular, fusion=fusion, **hparams)
    _check_user_kwargs(name, fn, hparams)
    model = fn(n_leads, n_classes, n_tabular=n_tabular, fusion=fusion, **hparams)
    check_model_interface(model, name, n_leads, n_classes, n_tabular)
    return model


def _check_user_kwargs(name: str, fn: ModelFn, hparams: Mapping[str, Any]) -> None:
    params = inspect.signature(fn).parameters
    keywords = _keywords(fn, _BUILDER_FIXED)
    if keywords is None:
        return
    valid = set(keywords)
    unknown = sorted(set(hparams) - valid)
    if unknown:
        raise InvalidHParamError(
            f"model {name!r}: unknown hyper-parameter(s) {unknown}; valid: {sorted(valid)}"
        )
    for required in ("n_leads", "n_classes", "n_tabular", "fusion"):
        if required not in params:
            raise ModelInterfaceError(
                f"user model {name!r}: the callable must accept (n_leads, n_classes, "
                f"n_tabular=0, fusion='none', **hparams); {required!r} is missing"
            )


def check_model_interface(
    model: object, name: str, n_leads: int, n_classes: int, n_tabular: int = 0
) -> None:
    """Raise :class:`ModelInterfaceError` unless ``model`` honours the EcgModel interface.

    Checks the attributes, then runs a batch of 2 at ``min_length`` samples (eval mode,
    no grad) and expects logits ``(2, n_classes)``.
    """
    if not isinstance(model, nn.Module):
        raise ModelInterfaceError(
            f"model {name!r}: the callable returned {type(model).__name__}, not an nn.Module"
        )
    missing = [
        a for a in ("forward_features", "forward_head") if not callable(getattr(model, a, None))
    ]
    missing += [
        a for a in ("num_features", "min_length") if not isinstance(getattr(model, a, None), int)
    ]
    if missing:
        raise ModelInterfaceError(
            f"model {name!r} ({type(model).__name__}) lacks {missing}; expected methods "
            "forward_features/forward_head and int attributes num_features/min_length"
        )
    min_length: int = getattr(model, "min_length")  # noqa: B009  (checked int above)
    x = torch.zeros(2, n_leads, max(min_length, 1))
    tab = torch.zeros(2, n_tabular) if n_tabular else None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x, tab) if tab is not None else model(x)
    except Exception as exc:
        raise ModelInterfaceError(
            f"model {name!r}: forward on a dummy input {tuple(x.shape)} failed: {exc}"
        ) from exc
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, n_classes):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelInterfaceError(
            f"model {name!r}: forward on {tuple(x.shape)} returned {shape}, "
            f"expected (2, {n_classes})"
        )


@functools.cache
def _measured(name: str) -> tuple[int, int]:
    model = create_model(name, 12, 5)
    n_params = sum(p.numel() for p in model.parameters())
    return int(getattr(model, "min_length")), n_params  # noqa: B009


def get_model_info(name: str) -> dict[str, Any]:
    """What a model is: family, paper, default hyper-parameters, its family's tuning
    ranges, ``min_length`` (samples) and parameter count (12 leads, 5 classes, no tabular).

    ``ranges`` is the family's search space, the one source the built-in tuning spaces
    sample (``ensembler.tuning.spaces``): a search parameter, in sampling order, to
    ``{"low", "high"[, "log"]}`` (integer bounds: an integer parameter) or
    ``{"choices"}``. A search parameter is a hyper-parameter or what the family's space
    builds hyper-parameters from (``depth`` and ``width`` give cnn1d's ``filters``).
    """
    resolve_model_fn(name)  # raises UnknownModelError with the valid names
    spec = _REGISTRY.get(name)
    min_length, measured = _measured(name)
    return {
        "name": name,
        "family": spec.family if spec else "custom",
        "paper": spec.paper if spec else "",
        "defaults": dict(spec.defaults) if spec else {},
        "ranges": {k: dict(v) for k, v in spec.ranges.items()} if spec else {},
        "min_length": min_length,
        "param_count": spec.param_count if spec and spec.param_count else measured,
    }
