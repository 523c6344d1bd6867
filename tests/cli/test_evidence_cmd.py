"""``ensembler evidence``: bad member names are one line and exit code 2, before any data
is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from clirun import run_cli

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = str(REPO / "configs" / "quickstart.yaml")


def test_no_members_named_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(monkeypatch, "evidence", QUICKSTART, "--run-dir", str(tmp_path / "r"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "export.mode_evidence: empty and no --members given" in err
    assert not (tmp_path / "r").exists()


def test_unknown_member_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(monkeypatch, "evidence", QUICKSTART, "--run-dir", str(tmp_path / "r"),
                   "--members", "nope")
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "--members: unknown members ['nope']" in err
    assert not (tmp_path / "r" / "cohort").exists()  # no data was read
