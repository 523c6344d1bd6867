"""Atomic writes: the one file writer and the one folder writer of ensembler.

Both write under a hidden temporary sibling name (``.<name>.tmp-<pid>-<random>``) and
rename it into place only when complete, so a reader never sees half an artefact.

Folders (:func:`atomic_dir`) follow one rule everywhere (bundles, fold models, stacks,
reports, caches, synthetic cohorts):

* a missing or empty target is simply created;
* an existing target is replaced only when it is one of ours (``is_ours(target)``,
  e.g. it holds a bundle manifest); anything else is refused with
  :class:`FolderExistsError` unless ``force=True``: a user's folder is never deleted;
* replacing renames the old folder away, renames the new one into place and only then
  removes the old one, so the target always holds a complete version;
* the temporary folder is created with the user's umask (not ``mkdtemp``'s 0700);
* SIGTERM (and SIGINT, which raises ``KeyboardInterrupt``) while writing removes the
  temporary folder before the process exits;
* leftovers of a hard kill (``SIGKILL``, power loss) are never read as content: they are
  hidden names, and the next write of the same target reports them in a warning.

Hand-written because no maintained library offers a rename-swap of folders with an
ownership rule (``atomicwrites`` is file-only and archived).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from ensembler.errors import EnsemblerError
from ensembler.utils.hashing import canonical_json
from ensembler.utils.runlock import pid_alive

log = logging.getLogger(__name__)

TMP_TAG = ".tmp-"
OLD_TAG = ".old-"


class FolderExistsError(EnsemblerError, FileExistsError):
    """The target of a folder write exists, is not empty and is not one of ours."""


def marked_by(*names: str) -> Callable[[Path], bool]:
    """An ``is_ours`` test: the folder holds every file in ``names``."""
    return lambda folder: all((folder / n).is_file() for n in names)


def _sibling(target: Path, tag: str) -> Path:
    return target.with_name(f".{target.name}{tag}{os.getpid()}-{secrets.token_hex(4)}")


def stale_temps(target: str | Path) -> list[Path]:
    """Temporary siblings of ``target`` left by a process that no longer runs."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(target.name)}(?:{re.escape(TMP_TAG)}|"
                         rf"{re.escape(OLD_TAG)})(\d+)-[0-9a-f]+(?:\.\w+)?$")
    out = []
    for p in sorted(target.parent.iterdir()):
        m = pattern.match(p.name)
        if m and not pid_alive(int(m.group(1))):
            out.append(p)
    return out


def report_stale(target: str | Path) -> list[Path]:
    """Warn (naming them) about leftovers of an interrupted write of ``target``; ignore them."""
    stale = stale_temps(target)
    if stale:
        log.warning("ignoring %d leftover temporary file(s)/folder(s) of an interrupted write "
                    "(the writing process is gone; safe to delete): %s",
                    len(stale), ", ".join(str(p) for p in stale))
    return stale


def check_target(target: Path, is_ours: Callable[[Path], bool], force: bool = False) -> None:
    """Raise :class:`FolderExistsError` unless ``target`` may be (re)written as a folder."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        if not force:
            raise FolderExistsError(f"{target}: exists and is not a folder; refusing to "
                                    "replace it (choose another path, or --force)")
        return
    if target.is_dir() and not force and any(target.iterdir()) and not is_ours(target):
        raise FolderExistsError(
            f"{target}: folder exists, is not empty and was not written by ensembler; refusing "
            "to replace it (choose another path, or --force to replace it)")


class _TermGuard:
    """While active (main thread only), SIGTERM raises SystemExit so cleanups run."""

    def __init__(self) -> None:
        self.previous: Any = None
        self.installed = False

    def __enter__(self) -> _TermGuard:
        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGTERM)
            if current in (signal.SIG_DFL, None):
                self.previous = current
                signal.signal(signal.SIGTERM, self._raise)
                self.installed = True
        return self

    @staticmethod
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    def __exit__(self, *exc: object) -> None:
        if self.installed:
            signal.signal(signal.SIGTERM, self.previous or signal.SIG_DFL)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _swap(tmp: Path, target: Path) -> None:
    """Rename ``target`` away, ``tmp`` into place, then remove the old version."""
    old = None
    if target.exists() or target.is_symlink():
        old = _sibling(target, OLD_TAG)
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)  # put the previous version back
        raise
    if old is not None:
        _remove(old)


@contextlib.contextmanager
def atomic_dir(path: str | Path, is_ours: Callable[[Path], bool], *, force: bool = False,
               keep_existing: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary folder next to ``path``; it becomes ``path`` on success.

    Parameters
    ----------
    path : the folder to write
    is_ours : tells whether an existing non-empty ``path`` was written by ensembler (and
        may be replaced); see :func:`marked_by`
    force : replace ``path`` even when it is not ours
    keep_existing : when ``path`` appeared meanwhile (a concurrent writer of the same
        content-addressed folder), keep it and discard ours instead of replacing it

    Raises
    ------
    FolderExistsError
        ``path`` exists, is not empty and is not ours (checked before and after writing).
    """
    target = Path(path)
    check_target(target, is_ours, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    report_stale(target)
    tmp = _sibling(target, TMP_TAG)
    with _TermGuard():
        os.mkdir(tmp, 0o777)  # the user's umask applies (mkdtemp would force 0700)
        try:
            yield tmp
            if keep_existing and target.is_dir() and any(target.iterdir()):
                return
            check_target(target, is_ours, force)
            _swap(tmp, target)
        finally:
            _remove(tmp)


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary file path next to ``path``; rename it onto ``path`` on success.

    The file is created with the user's umask. ``path`` must not be a folder.
    """
    target = Path(path)
    if target.is_dir():
        raise FolderExistsError(f"{target}: is a folder; expected a file path to write")
    target.parent.mkdir(parents=True, exist_ok=True)
    report_stale(target)
    tmp = target.with_name(f"{_sibling(target, TMP_TAG).name}{suffix}")
    with _TermGuard():
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        try:
            yield tmp
            os.replace(tmp, target)
        finally:
            _remove(tmp)


def write_json(path: str | Path, obj: Any, indent: int | None = 2) -> None:
    with atomic_path(path, ".json") as tmp:
        if indent is None:
            tmp.write_text(canonical_json(obj))
        else:
            tmp.write_text(json.dumps(json.loads(canonical_json(obj)), indent=indent) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    with atomic_path(path, ".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
