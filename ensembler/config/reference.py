"""Markdown reference of every config field (path, type, default, meaning).

The meaning is the field's trailing ``# comment`` in the section's source, so the
reference cannot drift from the code; ``python -m ensembler.config.reference``
prints it (docs/config.md is generated with it).
"""

from __future__ import annotations

import inspect
import re
import typing
from typing import Any

from pydantic import BaseModel

from ensembler.config import RunConfig
from ensembler.config.base import PartialSection

_COMMENT = re.compile(r"^\s+(\w+)\s*:[^#]*#\s*(.+)$")
_ABOVE = re.compile(r"^\s+#\s*(\w+):\s*(.+)$")


def _comments(model: type[BaseModel]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in inspect.getsource(model).splitlines():
        m = _ABOVE.match(line) or _COMMENT.match(line)
        if m and m.group(1) not in out:
            out[m.group(1)] = m.group(2).strip()
    return out


def _type_name(tp: Any) -> str:
    text = str(tp).replace("typing.", "")
    text = re.sub(r"<class '([\w.]+)'>", lambda m: m.group(1).split(".")[-1], text)
    return re.sub(r"ensembler\.config\.\w+\.", "", text)


def _submodel(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        inner = _submodel(arg)
        if inner is not None:
            return inner
    return None


def rows(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(path, type, default, meaning) of every leaf field, depth first."""
    out = []
    notes = _comments(model)
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        sub = _submodel(field.annotation)
        if sub is not None and issubclass(sub, PartialSection) and sub.partial_of is not None:
            kind = f"any {sub.partial_of.__name__} field"
            out.append((path, kind, "{}", notes.get(name, "")))
            continue
        is_list = typing.get_origin(field.annotation) is list or "list[" in str(field.annotation)
        if sub is not None and not is_list:
            out += rows(sub, path + ".")
            continue
        if sub is not None and is_list:
            out.append((path, f"list of {sub.__name__}", "[]", notes.get(name, "")))
            out += rows(sub, path + "[].")
            continue
        if field.is_required():
            default = "required"
        elif field.default_factory is not None:
            default = repr(field.default_factory())  # type: ignore[call-arg]
        else:
            default = repr(field.default)
        out.append((path, _type_name(field.annotation), default, notes.get(name, "")))
    return out


def markdown() -> str:
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for path, tp, default, note in rows():
        cell = default.replace("|", "\\|")
        lines.append(f"| `{path}` | {tp.replace('|', 'or')} | `{cell}` | {note} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
