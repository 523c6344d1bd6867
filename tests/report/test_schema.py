"""metrics.json through its dataclasses: an exact round trip of a real quickstart file,
unknown keys kept, missing fields named, and every reader working on the typed object."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from ensembler.bundle.manifest import headline_from_report
from ensembler.pipeline.summary import print_summary
from ensembler.report import tables
from ensembler.report.schema import Metrics, read_metrics
from ensembler.utils.jsonclass import SchemaError

#: report/metrics.json of `ensembler run configs/quickstart.yaml` (synthetic cohort).
QUICKSTART = Path(__file__).parent / "data" / "quickstart_metrics.json"


@pytest.fixture()
def raw() -> dict[str, Any]:
    return dict(json.loads(QUICKSTART.read_text()))


def _text(d: Any) -> str:
    """Canonical JSON text: equal only when every key, value and scalar type is equal."""
    return json.dumps(d, sort_keys=True, allow_nan=False)


def test_quickstart_metrics_round_trip_exactly(raw: dict[str, Any]) -> None:
    m = Metrics.from_json_dict(raw)
    assert _text(m.to_json_dict()) == _text(raw)  # an int stays an int, a float a float
    assert list(m.to_json_dict()) == list(raw)  # and the keys keep their order
    assert m.primary is not None and m.primary.a == raw["primary"]["a"]
    assert [r.name for r in m.leaderboard] == [r["name"] for r in raw["leaderboard"]]
    assert m.rows["best_single"].test_auc.point == raw["leaderboard"][
        [r["name"] for r in raw["leaderboard"]].index("best_single")]["test_auc"]["point"]


def test_unknown_blocks_survive_a_round_trip(raw: dict[str, Any]) -> None:
    raw["explanations"] = {"method": "integrated gradients", "rows": [1, 2.5]}
    raw["leaderboard"][0]["abstain"] = {"kept": 0.8}
    raw["settings"]["new_setting"] = 3
    m = Metrics.from_json_dict(raw)
    assert m.extra == {"explanations": raw["explanations"]}
    assert m.leaderboard[0].extra == {"abstain": {"kept": 0.8}}
    assert _text(m.to_json_dict()) == _text(raw)


def test_a_missing_field_is_named(raw: dict[str, Any]) -> None:
    del raw["leaderboard"][1]["test_auc"]
    with pytest.raises(SchemaError, match=r"metrics.json.leaderboard\[1\].test_auc: missing"):
        Metrics.from_json_dict(raw)


def test_a_wrong_shape_or_unknown_key_in_a_value_class_is_named(raw: dict[str, Any]) -> None:
    bad = copy.deepcopy(raw)
    bad["leaderboard"][0]["test_auc"] = 0.7
    with pytest.raises(SchemaError, match=r"leaderboard\[0\].test_auc: expected an object"):
        Metrics.from_json_dict(bad)
    raw["leaderboard"][0]["test_auc"]["median"] = 0.7
    with pytest.raises(SchemaError, match=r"leaderboard\[0\].test_auc: unknown key"):
        Metrics.from_json_dict(raw)


def test_read_metrics_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text("{")
    with pytest.raises(SchemaError, match=r"metrics\.json: not valid JSON"):
        read_metrics(path)
    path.write_text(json.dumps({"schema_version": 1}))
    with pytest.raises(SchemaError, match=re.escape(f"{path}.run: missing")):
        read_metrics(path)


def test_every_reader_works_on_the_file_as_read_back(raw: dict[str, Any]) -> None:
    """Tables, summary and the bundle headline read the typed object (nulls, not NaN);
    a reader of a field the schema lacks fails here (AttributeError) and in mypy."""
    m = Metrics.from_json_dict(raw)
    for block in (tables.leaderboard_table(m), *tables.primary_blocks(m),
                  *tables.operating_blocks(m), tables.calibration_table(m),
                  tables.subgroup_table(m), tables.test_reads_paragraph(m),
                  *tables.bootstrap_warning(m), tables.pareto_key_table(m.leaderboard)):
        assert block is not None
    con = Console(record=True, width=200)
    print_summary(m, Path("run"), console=con)
    assert "Primary comparison" in con.export_text()
    inp = SimpleNamespace(metrics=m, stack_name=m.primary.a if m.primary else "joint_stack")
    head = headline_from_report(inp).to_json_dict()  # type: ignore[arg-type]
    row = raw["leaderboard"][[r["name"] for r in raw["leaderboard"]].index(inp.stack_name)]
    assert head["status"] == "evaluated" and head["stack"]["test_auc"] == row["test_auc"]
    assert head["subgroups"] == raw["subgroups"]
