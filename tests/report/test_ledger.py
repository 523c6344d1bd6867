"""The test-set read ledger: counting reads of one test set across runs (fast, no training)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ensembler.config import ReportConfig, config_from_dict
from ensembler.errors import ConfigError, DataError
from ensembler.report import schema
from ensembler.report.ledger import (
    ENV,
    LedgerEntry,
    fingerprint_test_set,
    ledger_path,
    read_ledger,
    record_read,
)
from ensembler.utils.hashing import fingerprint

IDS = [f"rec{i:04d}" for i in range(1080)]


def entry(evaluated: str, config: str = "ptbxl", ids: list[str] = IDS, run: str = "/runs/a",
          ) -> LedgerEntry:
    return LedgerEntry(fingerprint=fingerprint_test_set(ids), n_test=len(ids),
                       classes=["NORM", "MI"], config=config, run_dir=run, evaluated=evaluated,
                       code="git abc", time=f"2026-11-30T10:00:0{len(evaluated) % 10}+00:00",
                       what="leaderboard + primary comparison")


def test_first_then_second_then_re_reported(tmp_path: Path) -> None:
    path = tmp_path / "state" / "test_reads.jsonl"
    first = record_read(path, entry("models-a"))
    assert (first.read_index, first.new_read, first.n_reads, first.earlier) == (1, True, 1, [])
    assert first.sentence.startswith("This is the first read of this test set (1,080 ECGs)")
    second = record_read(path, entry("models-b", config="ptbxl_seed2", run="/runs/b"))
    assert (second.read_index, second.new_read, second.n_reads) == (2, True, 2)
    assert [(r.source, r.config, r.run_dir) for r in second.earlier] == [
        ("ledger", "ptbxl", "/runs/a")]
    assert second.sentence.startswith("This is read 2 of this test set (1,080 ECGs): "
                                      "1 earlier read(s) by other configurations (ledger: ")
    assert second.sentence.endswith("its figures are not a first read.")
    again = record_read(path, entry("models-b", config="ptbxl_seed2", run="/runs/b"))
    assert (again.read_index, again.new_read, again.n_reads) == (2, False, 2)
    assert "re-reported, not a new read" in again.sentence
    assert len(read_ledger(path)) == 2  # a re-report appends nothing
    assert [e.evaluated for e in read_ledger(path)] == ["models-a", "models-b"]


def test_a_re_report_of_the_first_read_keeps_index_one(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    record_read(path, entry("a"))
    record_read(path, entry("b"))
    again = record_read(path, entry("a"))
    assert (again.read_index, again.n_reads, again.earlier) == (1, 2, [])
    assert "re-reported" in again.sentence


def test_another_test_set_is_counted_apart(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    record_read(path, entry("a"))
    other = record_read(path, entry("b", ids=IDS[:-1]))  # one ECG fewer: another test set
    assert (other.read_index, other.n_test) == (1, 1079)
    # the identity is the set of record ids, whatever their order
    assert fingerprint_test_set(IDS[::-1]) == fingerprint_test_set(IDS)


def test_declared_reads_are_counted_first(tmp_path: Path) -> None:
    declared = [{"when": "2026-11-20", "what": "leaderboard", "config": "ptbxl @ 1a2b"},
                {"when": "2026-11-25", "what": "member AUCs", "config": "ptbxl_cpu"}]
    path = tmp_path / "l.jsonl"
    record_read(path, entry("a"), declared)
    b = record_read(path, entry("b"), declared)
    assert (b.read_index, b.n_reads) == (4, 4)
    assert [r.source for r in b.earlier] == ["declared", "declared", "ledger"]
    assert "declared: 2026-11-20, ptbxl @ 1a2b — leaderboard" in b.sentence
    assert b.sentence.startswith("This is read 4 of this test set")


def test_disabled_ledger_counts_declared_reads_only(tmp_path: Path) -> None:
    assert ledger_path("none") is None and ledger_path("") is None and ledger_path("None") is None
    assert ledger_path(None, {ENV: "none"}) is None
    off = record_read(None, entry("a"), [{"when": "x", "what": "y", "config": "z"}])
    assert off.path is None and off.read_index == 2
    assert off.sentence.startswith("The test-read ledger is disabled")
    assert list(tmp_path.iterdir()) == []


def test_where_the_ledger_lives(tmp_path: Path) -> None:
    home = Path.home() / ".local" / "state" / "ensembler" / "test_reads.jsonl"
    assert ledger_path(None, {}) == home
    assert ledger_path(None, {"XDG_STATE_HOME": "relative/ignored"}) == home
    assert ledger_path(None, {"XDG_STATE_HOME": str(tmp_path)}) == \
        tmp_path / "ensembler" / "test_reads.jsonl"
    env = {ENV: str(tmp_path / "env.jsonl"), "XDG_STATE_HOME": str(tmp_path)}
    assert ledger_path(None, env) == tmp_path / "env.jsonl"
    assert ledger_path(str(tmp_path / "cfg.jsonl"), env) == tmp_path / "cfg.jsonl"
    assert ledger_path("none", env) is None


@pytest.mark.parametrize("bad, why", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"fingerprint": "x"}', "test-read entry lacks n_test"),
])
def test_malformed_line_names_file_and_line(tmp_path: Path, bad: str, why: str) -> None:
    path = tmp_path / "l.jsonl"
    record_read(path, entry("a"))
    with path.open("a") as fh:
        fh.write("\n" + bad + "\n")
    with pytest.raises(DataError) as err:
        record_read(path, entry("b"))
    msg = str(err.value)
    assert msg.startswith(f"{path}, line 3: ") and why in msg and "\n" not in msg
    assert len(path.read_text().splitlines()) == 3  # nothing appended


def test_a_wrongly_typed_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    record = json.loads(json.dumps(entry("a").__dict__))
    record["n_test"] = "many"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(DataError, match=r"line 1: entry.n_test: expected an integer"):
        read_ledger(path)


_WRITER = """
import sys
from ensembler.report.ledger import LedgerEntry, record_read
from pathlib import Path
path, tag = Path(sys.argv[1]), sys.argv[2]
for i in range(40):
    for ev in (f"{tag}-{i}", f"shared-{i}"):
        record_read(path, LedgerEntry(fingerprint="f", n_test=3, classes=["a"], config=tag,
                    run_dir="/r", evaluated=ev, code="c", time="t", what="w" * 2000))
"""


def test_two_processes_appending_at_once_both_land(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), tag])
             for tag in ("p", "q")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    got = [e.evaluated for e in read_ledger(path)]  # every line parses: none interleaved
    assert sorted(got) == sorted([f"{t}-{i}" for t in ("p", "q") for i in range(40)]
                                 + [f"shared-{i}" for i in range(40)])  # shared: once each


def test_metrics_without_the_ledger_block_still_load() -> None:
    old = {"count": 1, "stages": [], "informed_a_choice": [], "note": "n"}
    from ensembler.utils.jsonclass import from_json_dict, to_json_dict

    back = from_json_dict(schema.TestReads, old, "metrics.json.test_set_reads")
    assert back.ledger is None and to_json_dict(back) == old  # written back as it came


def test_the_ledger_block_round_trips(tmp_path: Path) -> None:
    from ensembler.utils.jsonclass import from_json_dict, to_json_dict

    block = record_read(tmp_path / "l.jsonl", entry("a"),
                        [{"when": "w", "what": "x", "config": "c"}])
    reads = schema.TestReads(count=1, stages=[], informed_a_choice=[], note="n", ledger=block)
    data = json.loads(json.dumps(to_json_dict(reads)))
    assert data["ledger"]["read_index"] == 2 and data["ledger"]["earlier"][0]["source"] == \
        "declared"
    assert from_json_dict(schema.TestReads, data, "x") == reads


def test_config_fields_and_their_errors(tmp_path: Path) -> None:
    base = {"name": "t", "data": {"source": "synthetic"}, "models": [
        {"name": "cnn", "arch": "cnn1d"}]}
    cfg = config_from_dict({**base, "report": {"test_ledger": str(tmp_path / "l.jsonl"),
                            "declared_test_reads": [{"when": "2026-11-01", "what": "leaderboard",
                                                     "config": "ptbxl"}]}})
    assert cfg.report.declared_test_reads[0].config == "ptbxl"
    with pytest.raises(ConfigError, match=r"report\.declared_test_reads\[0\]\.what"):
        config_from_dict({**base, "report": {"declared_test_reads": [{"when": "x",
                                                                      "config": "c"}]}})
    with pytest.raises(ConfigError, match=r"report\.test_ledger.*folder"):
        config_from_dict({**base, "report": {"test_ledger": str(tmp_path)}})


def test_the_ledger_fields_never_enter_the_comparison_key(tmp_path: Path) -> None:
    from ensembler.pipeline.compare import declared_input, report_key

    plain = ReportConfig()
    moved = ReportConfig(test_ledger=str(tmp_path / "elsewhere.jsonl"))
    assert fingerprint(report_key(moved)) == fingerprint(report_key(plain))
    assert fingerprint(report_key(plain)) == fingerprint(  # the key runs already have
        {k: v for k, v in plain.model_dump(mode="json").items()
         if k not in ("test_ledger", "declared_test_reads")})
    assert declared_input(plain) == {}
    declared = ReportConfig(declared_test_reads=[{"when": "w", "what": "x", "config": "c"}])
    assert declared_input(declared) == {"declared test reads": [
        {"when": "w", "what": "x", "config": "c"}]}
