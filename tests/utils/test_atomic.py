"""The one atomic folder/file writer: ownership rule, swap order, umask, signals, leftovers."""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ensembler.utils import atomic
from ensembler.utils.atomic import (
    FolderExistsError,
    atomic_dir,
    marked_by,
    stale_temps,
    write_text,
)

OURS = marked_by("meta.json")


def _write(folder: Path, text: str) -> None:
    (folder / "meta.json").write_text(text)


def test_foreign_non_empty_folder_is_refused_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "thesis.docx").write_text("years of work")
    with pytest.raises(FolderExistsError, match="not written by ensembler"):
        with atomic_dir(target, OURS) as tmp:
            _write(tmp, "new")
    assert (target / "thesis.docx").read_text() == "years of work"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temp left behind


def test_force_replaces_a_foreign_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "junk.txt").write_text("x")
    with atomic_dir(target, OURS, force=True) as tmp:
        _write(tmp, "new")
    assert sorted(p.name for p in target.iterdir()) == ["meta.json"]


def test_empty_folder_and_our_folder_are_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    with atomic_dir(target, OURS) as tmp:
        _write(tmp, "v1")
    with atomic_dir(target, OURS) as tmp:
        _write(tmp, "v2")
    assert (target / "meta.json").read_text() == "v2"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failed_swap_puts_the_previous_version_back(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Old folder renamed away first; if the new one cannot be renamed in, it comes back."""
    target = tmp_path / "out"
    with atomic_dir(target, OURS) as tmp:
        _write(tmp, "v1")
    real_replace = os.replace
    calls: list[tuple[str, str]] = []

    def flaky_replace(src: str | Path, dst: str | Path) -> None:
        calls.append((Path(src).name, Path(dst).name))
        if len(calls) == 2:  # the new folder onto the target
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="disk full"):
        with atomic_dir(target, OURS) as tmp:
            _write(tmp, "v2")
    assert (target / "meta.json").read_text() == "v1"
    assert calls[0][1].startswith(".out.old-") and calls[1][1] == "out"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failure_inside_leaves_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_dir(target, OURS) as tmp:
        _write(tmp, "v1")
    for exc in (ValueError("boom"), KeyboardInterrupt()):  # SIGINT raises KeyboardInterrupt
        with pytest.raises(type(exc)):
            with atomic_dir(target, OURS) as tmp:
                _write(tmp, "v2")
                raise exc
    assert (target / "meta.json").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_folders_and_files_follow_the_umask(tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        with atomic_dir(tmp_path / "out", OURS) as tmp:
            _write(tmp, "x")
        write_text(tmp_path / "file.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((tmp_path / "file.txt").stat().st_mode) == 0o666 & ~mask


def test_file_writer_refuses_a_folder(tmp_path: Path) -> None:
    (tmp_path / "preds.csv").mkdir()
    with pytest.raises(FolderExistsError, match="is a folder"):
        write_text(tmp_path / "preds.csv", "a,b\n")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_a_dead_writer_are_reported_and_ignored(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    target = tmp_path / "out"
    stale = tmp_path / f".out.tmp-{_dead_pid()}-deadbeef"
    stale.mkdir()
    live = tmp_path / f".out.tmp-{os.getpid()}-cafe"  # a running writer: not stale
    live.mkdir()
    assert stale_temps(target) == [stale]
    with caplog.at_level(logging.WARNING):
        with atomic_dir(target, OURS) as tmp:
            _write(tmp, "v1")
    assert str(stale) in caplog.text and str(live) not in caplog.text
    assert (target / "meta.json").read_text() == "v1"


SIGTERM_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from ensembler.utils.atomic import atomic_dir, marked_by
    with atomic_dir(Path(sys.argv[1]), marked_by("meta.json")) as tmp:
        (tmp / "meta.json").write_text("partial")
        print("writing", flush=True)
        time.sleep(60)
""")


def test_sigterm_while_writing_removes_the_temporary_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_SCRIPT, str(target)],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    assert any(p.name.startswith(".out.tmp-") for p in tmp_path.iterdir())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    time.sleep(0.1)
    assert list(tmp_path.iterdir()) == []


def test_predictions_loader_ignores_hidden_leftovers(tmp_path: Path) -> None:
    from ensembler.training.predictions import load_all

    (tmp_path / f".cnn.npz.tmp-{_dead_pid()}-ab12.npz").write_bytes(b"half-written")
    assert load_all(tmp_path) == {}
