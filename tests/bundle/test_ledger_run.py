"""The test-read ledger through the comparison stage of a real tiny run (copies of the
session's ``tiny_run``, so it stays untouched): read 1, another configuration's read 2,
a re-rendered comparison that is no new read, and a malformed ledger refused by the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from clirun import run_cli

from ensembler.config import RunConfig
from ensembler.pipeline.compare import compare_stage, run_compare
from ensembler.pipeline.context import RunContext
from ensembler.report.ledger import fingerprint_test_set, read_ledger


def _copy(tiny_run, dst: Path, ledger: Path) -> RunContext:  # type: ignore[no-untyped-def]
    shutil.copytree(tiny_run.run_dir, dst)
    cfg = tiny_run.cfg.model_copy(deep=True)
    cfg.run_dir = str(dst)
    cfg.report.diversity.enabled = False  # keep it quick: the panel reads no test label
    cfg.report.explain.enabled = False
    cfg.export.enabled = False
    cfg.report.test_ledger = str(ledger)
    return RunContext.create(cfg, dst, progress=False)


def test_reads_of_one_test_set_counted_across_runs(tiny_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ensembler.pipeline.stack import run_stacking

    ledger = tmp_path / "state" / "test_reads.jsonl"
    a = _copy(tiny_run, tmp_path / "a", ledger)
    first = run_compare(a).test_set_reads.ledger
    assert first is not None and (first.read_index, first.new_read) == (1, True)
    assert first.path == str(ledger) and "first read of this test set" in first.sentence
    (line,) = read_ledger(ledger)
    ids = tiny_run.cohort.record_id[tiny_run.test_rows]
    assert line.fingerprint == fingerprint_test_set(ids) and line.n_test == len(ids)
    assert line.run_dir == str((tmp_path / "a").absolute()) and line.config == "bundle-test"
    assert line.code.startswith(("git ", "ensembler "))

    # another configuration (the stacking study changed) on the same test set: read 2
    b = _copy(tiny_run, tmp_path / "b", ledger)
    b.cfg.stacking.trials = 3
    run_stacking(b)
    second = run_compare(b).test_set_reads.ledger
    assert second is not None and (second.read_index, second.new_read) == (2, True)
    assert [r.run_dir for r in second.earlier] == [line.run_dir]
    on_disk = json.loads((tmp_path / "b" / "report" / "metrics.json").read_text())
    assert on_disk["test_set_reads"]["ledger"]["read_index"] == 2
    assert "This is read 2 of this test set" in (tmp_path / "b/report/report.md").read_text()

    # the same models re-rendered (a report setting changed): still read 2, no new line
    b.cfg.report.n_bootstrap = 120
    again = run_compare(b).test_set_reads.ledger
    assert again is not None and (again.read_index, again.new_read) == (2, False)
    assert "re-reported, not a new read" in again.sentence and len(read_ledger(ledger)) == 2

    # the ledger's place is no stage input: moving it leaves the comparison current
    b.cfg.report.test_ledger = str(tmp_path / "elsewhere.jsonl")
    assert compare_stage(b).why() is None


def test_a_malformed_ledger_stops_compare_with_one_line(tiny_run, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                        monkeypatch, capsys) -> None:
    ledger = tmp_path / "test_reads.jsonl"
    ledger.write_text('{"fingerprint": "x"}\n\n{oops\n')
    ctx = _copy(tiny_run, tmp_path / "c", ledger)
    cfg_file = tmp_path / "c.yaml"
    data = RunConfig.model_validate(ctx.cfg.model_dump()).model_dump(mode="json")
    cfg_file.write_text(yaml.safe_dump(data))
    code = run_cli(monkeypatch, "compare", str(cfg_file), "--run-dir", str(tmp_path / "c"))
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.count("\n") == 0 and f"{ledger}, line 1: " in err and "lacks n_test" in err
    assert not (tmp_path / "c" / "report").exists()  # no half-written report

    ledger.unlink()  # fixed: the comparison runs, and its summary says which read it is
    assert run_cli(monkeypatch, "compare", str(cfg_file), "--run-dir", str(tmp_path / "c")) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"This is the first read of this test set ({len(tiny_run.test_rows)} ECGs)" in out
    assert len(read_ledger(ledger)) == 1
