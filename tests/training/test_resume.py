"""Kill a training process mid-run, resume, and get bit-identical OOF; parallel == serial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parent / "train_script.py"


def _run(run_dir: Path, n_jobs: int = 1, epochs: int = 3) -> None:
    subprocess.run([sys.executable, str(SCRIPT), str(run_dir), str(n_jobs), str(epochs)],
                   check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def _oof(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(run_dir / "predictions" / "cnn.npz") as z:
        return np.asarray(z["oof"]), np.asarray(z["test_by_fold"])


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    _run(ref)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(killed), "1", "3"],
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    first_done = killed / "base" / "cnn" / "fold_0" / "meta.json"
    deadline = time.time() + 120
    while not first_done.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert first_done.exists()
    assert not (killed / "predictions" / "cnn.npz").exists()
    # no half-written fold folder is left under its final name
    for k in (1, 2):
        folder = killed / "base" / "cnn" / f"fold_{k}"
        assert not folder.exists() or (folder / "meta.json").exists()
    _run(killed)
    oof_a, test_a = _oof(ref)
    oof_b, test_b = _oof(killed)
    np.testing.assert_array_equal(oof_a, oof_b)
    np.testing.assert_array_equal(test_a, test_b)


@pytest.mark.slow
def test_parallel_loky_equals_sequential(tmp_path: Path) -> None:
    _run(tmp_path / "seq", n_jobs=1, epochs=1)
    _run(tmp_path / "par", n_jobs=2, epochs=1)
    np.testing.assert_array_equal(_oof(tmp_path / "seq")[0], _oof(tmp_path / "par")[0])


def _group_members(pgid: int) -> list[int]:
    """Live processes (not zombies) of process group ``pgid``, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_sigkill_parallel_parent_leaves_no_worker_and_resumes_bit_identical(
        tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    _run(ref, epochs=4)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(killed), "2", "4", "locked"],
                            env={**os.environ, "OMP_NUM_THREADS": "1"},
                            start_new_session=True)  # its own process group: pgid = pid
    first_done = sorted((killed / "base" / "cnn").glob("fold_*/meta.json"))
    deadline = time.time() + 300
    while not first_done and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        first_done = sorted((killed / "base" / "cnn").glob("fold_*/meta.json"))
    assert proc.poll() is None, "training finished before it could be killed"
    workers = [p for p in _group_members(proc.pid) if p != proc.pid]
    assert workers, "expected loky worker processes"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while _group_members(proc.pid) and time.time() < deadline:
        time.sleep(0.1)
    assert _group_members(proc.pid) == [], "worker processes survived their parent"
    done_after_kill = sorted((killed / "base" / "cnn").glob("fold_*/meta.json"))
    time.sleep(1.0)
    assert sorted((killed / "base" / "cnn").glob("fold_*/meta.json")) == done_after_kill
    assert len(done_after_kill) < 3 and not (killed / "predictions" / "cnn.npz").exists()
    subprocess.run([sys.executable, str(SCRIPT), str(killed), "2", "4", "locked"],
                   check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    oof_a, test_a = _oof(ref)
    oof_b, test_b = _oof(killed)
    np.testing.assert_array_equal(oof_a, oof_b)
    np.testing.assert_array_equal(test_a, test_b)
