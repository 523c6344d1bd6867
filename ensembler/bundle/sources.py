"""Reading a bundle folder or zip without trusting it: list first, read later, bounded.

A :class:`BundleSource` lists every file with its size (the on-disk size of a folder's
file, the *declared* uncompressed size of a zip entry) before any content is read, so
verification can refuse unlisted, oversized or suspicious files first, and then hash
each file in chunks (memory stays at one chunk per file, whatever the archive claims).
Nothing here imports torch, pickle or joblib.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from ensembler.errors import BundleIntegrityError

MANIFEST = "manifest.json"
CHUNK = 1 << 20  # bytes read at a time while hashing


def check_member_name(name: str, where: str) -> None:
    """A relative POSIX path inside the bundle: no absolute paths, ``..`` or backslashes."""
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or "\\" in name or name.startswith("/"):
        raise BundleIntegrityError(f"{where}: file name {name!r} escapes the bundle folder")


class BundleSource:
    """A bundle folder or zip: ``sizes`` (name -> bytes) listed up front, ``chunks`` to read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sizes: dict[str, int] = {}
        self._zip: zipfile.ZipFile | None = None
        self._entries: dict[str, zipfile.ZipInfo] = {}
        if path.is_symlink():
            raise BundleIntegrityError(f"{path}: the bundle path is a symbolic link; refused")
        if path.is_dir():
            self._list_dir()
        elif path.is_file():
            self._list_zip()
        else:
            raise BundleIntegrityError(f"{path}: no bundle folder or zip at this path")

    def __enter__(self) -> BundleSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    @property
    def is_zip(self) -> bool:
        return self._zip is not None

    def _list_dir(self) -> None:
        root = self.path
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for d in dirnames:
                full = Path(dirpath) / d
                if full.is_symlink():
                    rel = full.relative_to(root).as_posix()
                    raise BundleIntegrityError(f"{root}: {rel!r} is a symbolic link; refused")
            for f in filenames:
                full = Path(dirpath) / f
                rel = full.relative_to(root).as_posix()
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    raise BundleIntegrityError(f"{root}: {rel!r} is a symbolic link; refused")
                if not stat.S_ISREG(st.st_mode):
                    raise BundleIntegrityError(f"{root}: {rel!r} is not a regular file; refused")
                self.sizes[rel] = st.st_size

    def _list_zip(self) -> None:
        path = self.path
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise BundleIntegrityError(f"{path}: not a readable zip archive ({exc})") from None
        for info in infos:
            name = info.filename
            if info.is_dir():
                continue
            check_member_name(name, str(path))
            mode = info.external_attr >> 16
            if mode and stat.S_ISLNK(mode):
                raise BundleIntegrityError(f"{path}: {name!r} is a symbolic link; refused")
            if name in self._entries:
                raise BundleIntegrityError(f"{path}: {name!r} appears twice in the zip")
            self._entries[name] = info
        # a zip of the bundle folder may hold everything under one top-level folder
        tops = {n.split("/", 1)[0] for n in self._entries}
        if MANIFEST not in self._entries and len(tops) == 1 \
                and all("/" in n for n in self._entries):
            top = tops.pop() + "/"
            self._entries = {n[len(top):]: i for n, i in self._entries.items()}
        self.sizes = {n: i.file_size for n, i in self._entries.items()}

    def _open(self, name: str) -> IO[bytes]:
        if self._zip is not None:
            return self._zip.open(self._entries[name])
        return open(self.path / name, "rb")

    def chunks(self, name: str) -> Iterator[bytes]:
        """The bytes of ``name`` in chunks; never more than its listed size."""
        limit = self.sizes[name]
        seen = 0
        try:
            with self._open(name) as fh:
                while True:
                    block = fh.read(min(CHUNK, limit - seen + 1))
                    if not block:
                        break
                    seen += len(block)
                    if seen > limit:
                        raise BundleIntegrityError(
                            f"{self.path}: file {name!r} holds more than its listed "
                            f"{limit} bytes; refused")
                    yield block
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise BundleIntegrityError(f"{self.path}: file {name!r} is unreadable "
                                       f"({exc})") from None

    def read(self, name: str) -> bytes:
        return b"".join(self.chunks(name))
