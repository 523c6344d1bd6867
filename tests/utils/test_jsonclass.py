"""``from_json_dict(..., strict=True)`` checks scalars against their annotations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from ensembler.utils.jsonclass import SchemaError, from_json_dict


@dataclass
class Point:
    x: float
    n: int
    label: str
    ok: bool
    maybe: float | None = None
    rows: list[int] = field(default_factory=list)
    free: Any = None


GOOD = {"x": 1, "n": 2, "label": "a", "ok": True, "maybe": 0.5, "rows": [1, 2], "free": "?"}


def test_strict_accepts_well_typed_values_and_an_integer_as_a_number() -> None:
    p = from_json_dict(Point, GOOD, "f.json", strict=True)
    assert p.x == 1 and isinstance(p.x, int)  # kept as written (exact round trips)
    assert from_json_dict(Point, {**GOOD, "maybe": None}, "f.json", strict=True).maybe is None


@pytest.mark.parametrize(("key", "value", "message"), [
    ("x", "1.5", "f.json.x: expected a number, got str"),
    ("x", True, "f.json.x: expected a number, got bool"),
    ("n", 2.0, "f.json.n: expected an integer, got float"),
    ("n", None, "f.json.n: expected an integer, got null"),
    ("label", 3, "f.json.label: expected a string, got int"),
    ("ok", 1, "f.json.ok: expected true or false, got int"),
    ("maybe", "high", "f.json.maybe: expected a number, got str"),
    ("rows", [1, "2"], "f.json.rows[1]: expected an integer, got str"),
])
def test_strict_names_a_mistyped_scalar(key: str, value: Any, message: str) -> None:
    with pytest.raises(SchemaError) as info:
        from_json_dict(Point, {**GOOD, key: value}, "f.json", strict=True)
    assert str(info.value) == message
    assert getattr(from_json_dict(Point, {**GOOD, key: value}, "f.json"), key) == value
