"""The one stage mechanism: skip when current, rerun on a change, say why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ensembler.pipeline.stage import Stage


class Counter:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.runs = 0
        self.said: list[str] = []

    def stage(self, **inputs: Any) -> Stage[int]:
        def run() -> tuple[int, dict[str, Any]]:
            self.runs += 1
            self.out.write_text(str(self.runs))
            return self.runs, {"value": self.runs}

        return Stage("counter", self.out.with_name("stage.json"), inputs=inputs, run=run,
                     load=lambda rec: int(rec["value"]), outputs=[self.out],
                     say=self.said.append)


def test_runs_once_then_skips(tmp_path: Path) -> None:
    c = Counter(tmp_path / "out.txt")
    assert c.stage(cfg={"a": 1}, upstream="k1").execute() == 1
    assert c.stage(cfg={"a": 1}, upstream="k1").execute() == 1  # reloaded from stage.json
    assert c.runs == 1 and c.said == []  # a first run says nothing
    rec = json.loads((tmp_path / "stage.json").read_text())
    assert rec["stage"] == "counter" and set(rec["inputs"]) == {"cfg", "upstream"}


def test_rerun_names_the_changed_inputs(tmp_path: Path) -> None:
    c = Counter(tmp_path / "out.txt")
    c.stage(cfg={"a": 1}, upstream="k1", seed=0).execute()
    assert c.stage(cfg={"a": 2}, upstream="k1", seed=0).why() == "changed: cfg"
    assert c.stage(cfg={"a": 2}, upstream="k1", seed=0).execute() == 2
    assert c.said == ["counter: rerunning (changed: cfg)"]
    c.stage(cfg={"a": 2}, upstream="k2", seed=1).execute()
    assert c.said[-1] == "counter: rerunning (changed: upstream, seed)"
    assert c.runs == 3


def test_missing_output_or_torn_record_reruns(tmp_path: Path) -> None:
    c = Counter(tmp_path / "out.txt")
    c.stage(x=1).execute()
    (tmp_path / "out.txt").unlink()
    assert c.stage(x=1).why() == "missing output out.txt"
    c.stage(x=1).execute()
    (tmp_path / "stage.json").write_text("{not json")
    assert c.stage(x=1).why() == "first run"
    assert c.stage(x=1).execute() == 3


def test_read_key_chains_stages(tmp_path: Path) -> None:
    up = Counter(tmp_path / "up" / "out.txt")
    (tmp_path / "up").mkdir()
    assert Stage.read_key(tmp_path / "up" / "stage.json") is None
    up.stage(x=1).execute()
    key1 = Stage.read_key(tmp_path / "up" / "stage.json")
    up.stage(x=2).execute()
    assert key1 is not None and Stage.read_key(tmp_path / "up" / "stage.json") != key1


def test_check_only_stage_cannot_execute(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="only checked"):
        Stage("job", tmp_path / "stage.json", inputs={"x": 1}).execute()
