"""``models[i].arch`` and ``models[i].params`` checked at load against the architecture.

Registered architectures are introspected through ``base_models.model_hparams`` (the
constructor's keywords and type hints), so a newly registered architecture is checked
without any change here. Values are validated with pydantic against the type hint in
strict JSON mode (YAML values are JSON values: ``width: "64"`` and ``width: 64.5`` are
refused, ``[32, 32]`` is a valid ``Sequence[int]``), then a built-in variant is built on
torch's meta device so its own range checks run (no memory, no forward pass).

A user architecture (``"module.path:callable"``) is never imported by the loader: its
keywords are checked only when the module is already imported (it was registered or
used in this process); otherwise ``create_model`` checks them when the member is built.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError

from ensembler.config.issues import Issue, suggest, yaml_path

if TYPE_CHECKING:
    from ensembler.config.training import ModelEntry

_NAMED = re.compile(r"'(\w+)'=")  # "hyper-parameter 'depth'=42: expected ..."


def check_models(models: list[ModelEntry], n_tabular: int,
                 import_user: bool = False) -> list[Issue]:
    """Issues of every entry's ``arch`` and ``params`` (``n_tabular``: fusion width).

    ``import_user``: also import user architectures' modules to check their keywords
    (the training stage, which builds them anyway, passes True; the loader never does).
    """
    if not models:
        return []
    import base_models  # torch: only when there are members to check

    issues: list[Issue] = []
    registered = base_models.list_models()
    for i, entry in enumerate(models):
        where = f"models[{i}]"
        if ":" in entry.arch:
            module, _, attr = entry.arch.partition(":")
            if not module or not attr:
                issues.append(Issue(f"{where}.arch", "expected 'module.path:callable', "
                                                     f"got {entry.arch!r}"))
            elif import_user or base_models.user_module_imported(entry.arch):
                issues += _check_user(entry, where)
            continue
        if entry.arch not in registered:
            issues.append(Issue(f"{where}.arch", f"unknown architecture {entry.arch!r}"
                                f"{suggest(entry.arch, registered)}; valid: "
                                f"{', '.join(registered)}"))
            continue
        found = _check_params(entry, where, base_models.model_hparams(entry.arch))
        if not found:
            found = _check_values(entry, where, n_tabular)
        issues += found
    return issues


def _check_user(entry: ModelEntry, where: str) -> list[Issue]:
    import base_models

    try:
        signature = base_models.model_hparams(entry.arch)
    except base_models.BaseModelsError as exc:
        return [Issue(f"{where}.arch", str(exc))]
    return _check_params(entry, where, signature)


def _check_params(entry: ModelEntry, where: str,
                  signature: Mapping[str, inspect.Parameter] | None) -> list[Issue]:
    """Unknown names and values of the wrong type; ``signature`` None accepts any name."""
    issues = []
    for key, value in entry.params.items():
        path = f"{where}.params.{key}"
        if signature is None:
            continue
        if key not in signature:
            valid = list(signature)
            issues.append(Issue(path, f"unknown parameter of {entry.arch}"
                                      f"{suggest(key, valid)}; valid: {', '.join(valid)}"))
            continue
        hint = signature[key].annotation
        if hint is not inspect.Parameter.empty:
            issues += _check_type(path, hint, value)
    return issues


@functools.cache
def _adapter(hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(hint)


def _check_type(path: str, hint: Any, value: Any) -> list[Issue]:
    expected = _hint_name(hint)
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return [Issue(path, f"expected {expected}, got a {type(value).__name__}")]
    try:
        adapter = _adapter(hint)
    except PydanticSchemaGenerationError:  # a hint pydantic cannot check: the name only
        return []
    try:
        adapter.validate_json(text, strict=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        inner = yaml_path(err["loc"]) if err["loc"] else ""
        at = f"{path}{'' if inner.startswith('[') else '.'}{inner}" if inner else path
        got = repr(json.loads(text) if not inner else err.get("input"))
        got = got if len(got) <= 60 else type(value).__name__
        name = path.rsplit(".", 1)[-1]
        return [Issue(at, f"{err['msg']} (got {got}; {name} is {expected})")]
    return []


def _hint_name(hint: Any) -> str:
    if typing.get_args(hint):
        return str(hint).replace("collections.abc.", "").replace("typing.", "")
    return getattr(hint, "__name__", str(hint))


def _check_values(entry: ModelEntry, where: str, n_tabular: int) -> list[Issue]:
    """Range and consistency checks of the architecture's constructor (meta device)."""
    fusion_tab = max(n_tabular, 1) if entry.fusion != "none" else 0
    message = _build_error(entry.arch, json.dumps(entry.params, sort_keys=True),
                           entry.fusion, fusion_tab)
    if message is None:
        return []
    named = _NAMED.search(message)  # base_models names the parameter: point at it
    key = named.group(1) if named and named.group(1) in entry.params else None
    return [Issue(f"{where}.params" + (f".{key}" if key else ""), message)]


@functools.lru_cache(maxsize=256)
def _build_error(arch: str, params: str, fusion: str, n_tabular: int) -> str | None:
    import base_models

    try:
        base_models.check_hparam_values(arch, json.loads(params), n_tabular=n_tabular,
                                        fusion=fusion)
    except (base_models.BaseModelsError, ValueError, TypeError) as exc:
        return str(exc)
    return None
