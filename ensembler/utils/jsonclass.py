"""Dataclasses to and from plain JSON objects, at the edge of a file.

Hand-written on purpose (about 100 lines): the artefacts written with it (``metrics.json``)
are compared field by field across refactors, so a round trip must keep every scalar
exactly as it came — an ``int`` stays an ``int`` and a ``float`` a ``float`` — which
pydantic's lax (and strict) float validation does not do, and each object must keep the
keys it does not know. Rules:

- a field's JSON key is its name, or ``field(metadata={"key": ...})`` (e.g. ``class``);
- a class with an ``absent: set[str]`` field records the defaulted fields a file lacked
  (written by an older version) and leaves them out again when writing;
- a class with an ``extra: dict[str, Any]`` field keeps unknown keys there and writes them
  back after its own fields (so a block added by a newer writer survives an older
  reader); a class without one refuses unknown keys;
- a missing field without a default is an error naming the dotted path;
- ``strict=True`` also checks each scalar against its annotation (``int``, ``float`` — an
  integer is a number too —, ``str``, ``bool``; ``Any`` and unions of scalars are not
  checked), for files a user hands over (a bundle's manifest) whose readers format them;
- writing turns numpy scalars/arrays into Python values and NaN/inf into ``null``
  (strict JSON has no NaN); nested dataclasses, lists and mappings are followed.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar, Union, cast

import numpy as np

from ensembler.errors import EnsemblerError

__all__ = ["SchemaError", "from_json_dict", "json_ready", "to_json_dict"]

T = TypeVar("T")
EXTRA = "extra"
ABSENT = "absent"


class SchemaError(EnsemblerError, ValueError):
    """A JSON artefact does not have the layout its class expects; names the dotted path."""


def json_ready(obj: Any) -> Any:
    """Dataclasses, numpy scalars/arrays and mappings to JSON values; NaN/inf to None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_json_dict(obj)
    if isinstance(obj, Mapping):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _key(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("key", f.name))


def to_json_dict(obj: Any) -> dict[str, Any]:
    """One dataclass instance as a JSON object (fields in declaration order, then extras)."""
    omit = set(obj.json_omit()) if hasattr(obj, "json_omit") else set()
    omit |= set(getattr(obj, ABSENT, ()))
    out = {_key(f): json_ready(getattr(obj, f.name)) for f in dataclasses.fields(obj)
           if f.name not in (EXTRA, ABSENT) and f.name not in omit}
    out.update({str(k): json_ready(v) for k, v in getattr(obj, EXTRA, {}).items()})
    return out


@cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_json_dict(cls: type[T], data: Any, where: str, *, strict: bool = False) -> T:
    """Read ``data`` (a parsed JSON object) as ``cls``; ``where`` prefixes error paths;
    ``strict``: check scalars against their annotations too."""
    if not isinstance(data, Mapping):
        raise SchemaError(f"{where}: expected an object, got {_kind(data)}")
    hints = _hints(cast(Any, cls))
    kwargs: dict[str, Any] = {}
    known = set()
    has_extra = False
    absent: set[str] = set()
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in (EXTRA, ABSENT):
            has_extra = has_extra or f.name == EXTRA
            continue
        key = _key(f)
        known.add(key)
        if key in data:
            kwargs[f.name] = _read(hints[f.name], data[key], f"{where}.{key}", strict)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SchemaError(f"{where}.{key}: missing (expected by {cls.__name__})")
        else:
            absent.add(f.name)
    if ABSENT in names:
        kwargs[ABSENT] = absent
    unknown = {str(k): v for k, v in data.items() if k not in known}
    if unknown and not has_extra:
        raise SchemaError(f"{where}: unknown key(s) {sorted(unknown)}; expected "
                          f"{sorted(known)}")
    if has_extra:
        kwargs[EXTRA] = unknown
    return cls(**kwargs)


def _kind(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _read(tp: Any, value: Any, where: str, strict: bool) -> Any:
    """``value`` as type ``tp``: dataclasses and containers followed, scalars kept as-is
    (and, when ``strict``, checked)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return _read_union(tp, value, where, strict)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return from_json_dict(tp, value, where, strict=strict)  # type: ignore[arg-type]
    if origin is list:
        if not isinstance(value, list):
            raise SchemaError(f"{where}: expected a list, got {_kind(value)}")
        (item,) = typing.get_args(tp)
        return [_read(item, v, f"{where}[{i}]", strict) for i, v in enumerate(value)]
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise SchemaError(f"{where}: expected an object, got {_kind(value)}")
        _, item = typing.get_args(tp)
        return {str(k): _read(item, v, f"{where}.{k}", strict) for k, v in value.items()}
    return _scalar(tp, value, where) if strict else value


#: scalar annotation -> (what a message calls it, the JSON values it accepts)
_SCALARS: dict[Any, tuple[str, tuple[type, ...]]] = {
    bool: ("true or false", (bool,)), int: ("an integer", (int,)),
    float: ("a number", (int, float)), str: ("a string", (str,))}


def _scalar(tp: Any, value: Any, where: str) -> Any:
    if tp not in _SCALARS:
        return value
    what, accepted = _SCALARS[tp]
    if not isinstance(value, accepted) or (isinstance(value, bool) and tp is not bool):
        raise SchemaError(f"{where}: expected {what}, got {_kind(value)}")
    return value


def _read_union(tp: Any, value: Any, where: str, strict: bool) -> Any:
    """``X | None`` (null allowed, else read as X); a union of scalars is kept as written."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if value is None:
        if len(args) < len(typing.get_args(tp)):
            return None
        raise SchemaError(f"{where}: null, expected {tp}")
    return _read(args[0], value, where, strict) if len(args) == 1 else value
