"""The run-directory lock: one holder at a time, stale when the holder died, and jobs that
refuse to write into a directory they no longer share."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ensembler.utils.runlock import (
    LOCK_NAME,
    JobGuard,
    RunLockedError,
    check_lock,
    hold_run_lock,
)

HOLD = ("import sys, time\n"
        "from ensembler.utils.runlock import hold_run_lock\n"
        "with hold_run_lock(sys.argv[1]) as lock:\n"
        "    print(lock.token, flush=True)\n"
        "    time.sleep(120)\n")


def _holder(run_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def test_a_second_holder_is_refused_and_a_killed_holder_is_stale(tmp_path: Path) -> None:
    proc, token = _holder(tmp_path)
    try:
        with pytest.raises(RunLockedError, match=f"in use by ensembler process {proc.pid}"):
            with hold_run_lock(tmp_path):
                pass
        check_lock(tmp_path, token)  # the holder's jobs may write
        with pytest.raises(RunLockedError, match="no longer holds"):
            check_lock(tmp_path, "not-the-token")
        with pytest.raises(RunLockedError, match="in use"):
            check_lock(tmp_path, None)  # an unlocked writer beside a live holder
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with pytest.raises(RunLockedError, match="no longer holds"):
        check_lock(tmp_path, token)  # holder dead: its orphaned jobs must not write
    with hold_run_lock(tmp_path) as lock:  # stale: taken over
        assert lock.token != token
        info = json.loads((tmp_path / LOCK_NAME).read_text())
        assert info["pid"] == os.getpid() and info["token"] == lock.token
        check_lock(tmp_path, lock.token)
        check_lock(tmp_path, None)  # this process's own unlocked helpers may write
        with pytest.raises(RunLockedError):
            check_lock(tmp_path, token)
    with pytest.raises(RunLockedError):
        check_lock(tmp_path, lock.token)  # released


WORKER = ("import os, sys, time\n"
          "from ensembler.utils.runlock import exit_with_parent\n"
          "exit_with_parent(int(sys.argv[1]))\n"
          "print(os.getpid(), flush=True)\n"
          "time.sleep(120)\n")
PARENT = ("import os, subprocess, sys, time\n"
          "child = subprocess.Popen([sys.executable, '-c', sys.argv[1], str(os.getpid())],\n"
          "                         stdout=sys.stdout)\n"
          "time.sleep(120)\n")


def test_a_worker_exits_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, WORKER], stdout=subprocess.PIPE,
                              text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the worker outlived its parent by 5 s")


def test_guard_is_a_no_op_in_the_parent(tmp_path: Path) -> None:
    guard = JobGuard.for_run(tmp_path, None)
    guard.start()  # must not arm a watchdog in the parent itself
    guard.check()


@pytest.mark.slow
def test_the_cli_refuses_a_run_directory_in_use(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (tmp_path / "cfg.yaml").write_text("name: t\n")
    proc, _ = _holder(run_dir)
    try:
        res = subprocess.run([sys.executable, "-m", "ensembler.cli", "train",
                              str(tmp_path / "cfg.yaml"), "--run-dir", str(run_dir)],
                             capture_output=True, text=True)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"in use by ensembler process {proc.pid}" in res.stderr


def test_a_worker_on_another_host_checks_the_token_only(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 999_999_999, "token": "t",
                                                  "host": "elsewhere"}))
    check_lock(tmp_path, "t")  # the holder's pid cannot be checked from here
    with pytest.raises(RunLockedError):
        check_lock(tmp_path, "other")
    (tmp_path / LOCK_NAME).write_text("")  # released
    with pytest.raises(RunLockedError):
        check_lock(tmp_path, "t")


def test_tuning_workers_share_the_lock_and_exclude_a_run(tmp_path: Path) -> None:
    """Several ``tune`` workers share one study in one run directory (shared lock); a
    ``run``/``train`` (exclusive) is refused beside them, and they beside it."""
    with hold_run_lock(tmp_path, shared=True), hold_run_lock(tmp_path, shared=True):
        with pytest.raises(RunLockedError, match=r"tuning workers \(shared\)"):
            with hold_run_lock(tmp_path):
                pass
    with hold_run_lock(tmp_path):
        with pytest.raises(RunLockedError, match="in use by ensembler process"):
            with hold_run_lock(tmp_path, shared=True):
                pass
    with hold_run_lock(tmp_path):  # all released: an exclusive holder gets it again
        pass
