"""The run-directory lock, and what parallel training jobs do when its holder is gone.

``ensembler run``/``train`` (and the other stage commands) hold ``<run_dir>/.ensembler.lock``
with an exclusive ``flock`` for as long as they run. The kernel drops a ``flock`` when its
process dies, even by ``kill -9``, so a lock left by a dead process is stale by
construction and the next command takes it over; the file's JSON (pid, token, start time)
only names the holder in the error. Each acquisition writes a fresh random token.

Training jobs (loky worker processes, possibly left running when the parent is killed)
get a :class:`JobGuard`: it starts a watchdog thread that ends the worker as soon as its
parent process is gone, and it refuses to write a job's output unless the run directory's
lock still carries the job's token and its holder is alive, so a job of a dead run can
never write into a directory a new run has taken over. (loky itself only notices a dead
parent once its call queue breaks, after the jobs already queued to a worker have run:
hence the watchdog, written here because neither joblib nor loky offers one.)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ensembler.errors import EnsemblerError

LOCK_NAME = ".ensembler.lock"
WATCHDOG_INTERVAL_S = 0.5


class RunLockedError(EnsemblerError, RuntimeError):
    """The run directory is in use by another live process, or no longer ours."""


@dataclass(frozen=True)
class RunLock:
    """A held lock: the run directory, this holder's token and process id."""

    run_dir: Path
    token: str
    pid: int


def _read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def pid_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@contextlib.contextmanager
def hold_run_lock(run_dir: str | Path, shared: bool = False) -> Iterator[RunLock]:
    """Hold the run directory's lock for the ``with`` block.

    ``shared=True`` is for ``ensembler tune`` workers that share one Optuna study (the
    study's storage coordinates them): any number of shared holders coexist, while a
    ``run``/``train`` (exclusive) is refused as long as one of them lives, and the other
    way round.

    Raises
    ------
    RunLockedError
        Another live process holds it; the message names its pid and start time.
    """
    rd = Path(run_dir)
    rd.mkdir(parents=True, exist_ok=True)
    path = rd / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read(path)
            kind = "tuning workers (shared)" if info.get("shared") else "ensembler process"
            raise RunLockedError(
                f"{rd}: run directory in use by {kind} {info.get('pid', '?')} "
                f"(since {info.get('started', '?')}); wait for it to finish or stop it"
            ) from None
        lock = RunLock(run_dir=rd, token=secrets.token_hex(16), pid=os.getpid())
        payload = json.dumps({"pid": lock.pid, "token": lock.token, "host": socket.gethostname(),
                              "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                              "shared": shared})
        os.ftruncate(fd, 0)
        os.pwrite(fd, payload.encode(), 0)
        os.fsync(fd)
        try:
            yield lock
        finally:
            if not shared:  # a shared holder leaves the record to the others still holding
                os.ftruncate(fd, 0)  # released: no token left for any job to match
    finally:
        os.close(fd)  # closing drops the flock


def check_lock(run_dir: Path, token: str | None) -> None:
    """Refuse (RunLockedError) unless ``run_dir`` is locked with ``token`` by a live holder.

    ``token=None`` (a library call that took no lock): refuse only when a live process
    other than this one (or its parent) holds the directory. On another host than the
    holder's (a dask worker), the token alone decides: the lock is emptied on release.
    """
    info = _read(Path(run_dir) / LOCK_NAME)
    pid = info.get("pid")
    if info.get("host", socket.gethostname()) != socket.gethostname():
        holder_alive = bool(info.get("token"))  # a dask worker elsewhere: pids mean nothing
    else:
        holder_alive = isinstance(pid, int) and pid_alive(pid)
    if token is None:
        if holder_alive and pid not in (os.getpid(), os.getppid()):
            raise RunLockedError(f"{run_dir}: run directory in use by ensembler process {pid}; "
                                 "this unlocked write is refused")
        return
    if info.get("token") != token or not holder_alive:
        raise RunLockedError(f"{run_dir}: the run that started this job no longer holds the "
                             "run directory; its output is discarded")


_watchdog_started = False
_watchdog_lock = threading.Lock()


def exit_with_parent(parent_pid: int) -> None:
    """In a worker process started by ``parent_pid``: end this process within
    ``WATCHDOG_INTERVAL_S`` of the parent's death. A no-op in the parent itself and in
    processes that are not its children (e.g. dask workers on other machines)."""
    global _watchdog_started
    if os.getpid() == parent_pid or os.getppid() != parent_pid:
        return
    with _watchdog_lock:
        if _watchdog_started:
            return
        _watchdog_started = True

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCHDOG_INTERVAL_S)
        os._exit(1)  # the parent is gone: stop training for nobody

    threading.Thread(target=watch, name="ensembler-parent-watchdog", daemon=True).start()


@dataclass(frozen=True)
class JobGuard:
    """What a training job needs to stay honest about the run it belongs to (picklable)."""

    run_dir: Path
    token: str | None
    parent_pid: int

    @classmethod
    def for_run(cls, run_dir: Path, token: str | None) -> JobGuard:
        return cls(run_dir=Path(run_dir), token=token, parent_pid=os.getpid())

    def start(self) -> None:
        """Call at the start of a job: arms the parent watchdog in worker processes."""
        exit_with_parent(self.parent_pid)

    def check(self) -> None:
        """Call right before a job's output is moved into place."""
        check_lock(self.run_dir, self.token)
