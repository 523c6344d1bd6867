"""One stage mechanism: skip finished work, resume, and say why a stage reruns.

A :class:`Stage` is named, keyed by the fingerprints of its named inputs (upstream
fingerprints and its config slice), knows the outputs it leaves and how to run or
reload itself. Each stage writes one ``stage.json``: the key, each input's fingerprint
(so a rerun can name what changed) and what the stage records about its outputs.
(Hand-written on purpose: DVC/dagster-style keys in a few dozen lines, not a framework.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from ensembler.utils.atomic import write_json
from ensembler.utils.hashing import fingerprint

T = TypeVar("T")
Record = dict[str, Any]
FIRST_RUN = "first run"


@dataclass
class Stage(Generic[T]):
    """``run()`` returns (result, fields for stage.json); ``load(record)`` rebuilds the
    result of a current stage. ``outputs`` must all exist for the stage to be current.
    A stage whose work runs elsewhere (a training job in a worker) leaves both None and
    uses :meth:`why` and :meth:`record` only."""

    name: str
    record_path: Path
    inputs: Mapping[str, Any]
    run: Callable[[], tuple[T, Record]] | None = None
    load: Callable[[Record], T] | None = None
    outputs: Sequence[Path] = ()
    say: Callable[[str], None] | None = print

    @property
    def digests(self) -> dict[str, str]:
        return {k: fingerprint(v) for k, v in self.inputs.items()}

    @property
    def key(self) -> str:
        return fingerprint({"stage": self.name, "inputs": self.digests})

    def previous(self) -> Record | None:
        return _read(self.record_path)

    @staticmethod
    def read_record(record_path: Path) -> Record | None:
        """What a stage recorded (None when it has not run or its file is unreadable)."""
        return _read(record_path)

    @staticmethod
    def read_key(record_path: Path) -> str | None:
        """The key an upstream stage recorded (None when it has not run): a downstream
        stage's input fingerprint."""
        rec = _read(record_path)
        return None if rec is None else rec.get("key")

    def why(self) -> str | None:
        """None when the stage is current, else why it (re)runs."""
        prev = self.previous()
        if prev is None:
            return FIRST_RUN
        if prev.get("key") != self.key:
            old = prev.get("inputs") or {}
            changed = [k for k, d in self.digests.items() if old.get(k) != d]
            gone = [k for k in old if k not in self.inputs]
            return "changed: " + ", ".join(changed + gone) if changed or gone else \
                "the stage's definition changed"
        missing = [p.name for p in self.outputs if not p.exists()]
        return f"missing output {', '.join(missing)}" if missing else None

    def record(self, fields: Record) -> Record:
        return {"stage": self.name, "key": self.key, "inputs": self.digests, **fields}

    def execute(self) -> T:
        """The stage's result: reloaded when current, else run (saying why) and recorded."""
        if self.run is None or self.load is None:
            raise TypeError(f"stage {self.name!r} has no run/load; it is only checked")
        reason = self.why()
        prev = self.previous()
        if reason is None and prev is not None:
            return self.load(prev)
        if reason != FIRST_RUN and self.say is not None:
            self.say(f"{self.name}: rerunning ({reason})")
        result, fields = self.run()
        write_json(self.record_path, self.record(fields))
        return result


def _read(path: Path) -> Record | None:
    try:
        rec = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return rec if isinstance(rec, dict) else None
