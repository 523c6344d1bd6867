"""Config problems as (YAML path, message) pairs, and the one ConfigError they become.

pydantic's own errors carry a location tuple and an English message; here they get
the YAML path (``models[0].training.lr``), the valid field names for an unknown
field, and the offending value when it is a short scalar, never a nested dict.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ensembler.errors import ConfigError

_MAX_GOT = 60  # longest value repr quoted in a message


@dataclass(frozen=True)
class Issue:
    """One problem of a config: where (YAML path) and what (expected vs. got)."""

    path: str
    message: str


def yaml_path(loc: Iterable[Any]) -> str:
    """``("models", 0, "params", "width")`` -> ``models[0].params.width`` (top level: "")."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def suggest(name: str, valid: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for a near miss among ``valid``, else ``""``."""
    close = difflib.get_close_matches(name, list(valid), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _field_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        found = _field_model(arg)
        if found is not None:
            return found
    return None


def model_at(root: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The config section at ``loc`` (list indices and dict keys stepped over), if any."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        model = _field_model(field.annotation)
    return model


def _got(value: Any) -> str:
    if isinstance(value, Mapping | list | tuple):
        return ""  # a whole section: the message and the path say enough
    text = repr(value)
    return f" (got {text})" if len(text) <= _MAX_GOT else ""


def from_validation_error(exc: ValidationError, root: type[BaseModel]) -> list[Issue]:
    """One :class:`Issue` per pydantic error, located by YAML path."""
    issues = []
    for err in exc.errors():
        # parts naming a union member or validator ("function-after[...]") are not YAML keys
        loc = [p for p in err["loc"] if isinstance(p, int) or "[" not in str(p)]
        kind, msg = err["type"], err["msg"]
        if kind == "extra_forbidden":
            parent = model_at(root, loc[:-1])
            valid = list(parent.model_fields) if parent is not None else []
            msg = f"unknown field{suggest(str(loc[-1]), valid)}"
            msg += f"; valid: {', '.join(valid)}" if valid else ""
        elif kind == "missing":
            msg = "required field missing"
        else:
            msg = msg.removeprefix("Value error, ") + _got(err.get("input"))
        issues.append(Issue(yaml_path(loc), msg))
    return issues


def config_error(source: str, issues: Sequence[Issue]) -> ConfigError:
    """One :class:`ConfigError` naming ``source`` and every issue, on one line."""
    parts = list(dict.fromkeys(f"{i.path}: {i.message}" if i.path else i.message
                               for i in issues))
    head = f"{source}: " if len(parts) == 1 else f"{source}: {len(parts)} problems: "
    return ConfigError(head + "; ".join(parts))
