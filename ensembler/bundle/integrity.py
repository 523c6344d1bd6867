"""Bundle integrity: file hashes, the manifest digest, and verification before loading.

A bundle is a folder (or a ``.zip`` of one) holding ``manifest.json`` plus the files
it lists under ``files`` (relative path -> SHA-256). ``manifest_digest`` is the
SHA-256 of the canonical JSON of the manifest without that field.

:func:`read_verified` reads every file's bytes once, checks them, and hands the
verified bytes to the loader, so nothing is re-read from disk between
verification and use. Nothing here imports torch, pickle or joblib.

The digest detects corruption and tampering by anyone who does not also rewrite
the manifest; it is not a signature. Publish the digest through a separate channel
(``ensembler verify BUNDLE --expect-digest HEX``) when authenticity matters.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ensembler.errors import BundleIntegrityError
from ensembler.utils.hashing import canonical_json

FORMAT = "ensembler-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: The only file types a bundle may hold; none of them executes code when read.
ALLOWED_SUFFIXES = (".json", ".md", ".txt", ".safetensors", ".onnx", ".csv")
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".joblib", ".npy", ".npz", ".bin", ".ckpt")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_clean(obj: Any) -> Any:
    """``obj`` with non-finite floats as None and tuples as lists (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return json_clean(obj.item())
    return obj


def manifest_digest(manifest: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of ``manifest`` without ``manifest_digest``."""
    body = {k: v for k, v in manifest.items() if k != "manifest_digest"}
    return sha256_bytes(canonical_json(body).encode())


def looks_like_pickle(data: bytes) -> str | None:
    """Why ``data`` looks like a pickle or a torch/joblib archive, or None.

    Defence in depth on top of the suffix allowlist: protocol 2-5 pickles start with
    ``0x80 <proto>``; ``torch.save`` archives are zips with a ``data.pkl`` entry (no
    bundle file is a zip); protocol 0/1 pickles end with the STOP opcode ``.`` after
    a MARK/GLOBAL opener.
    """
    if len(data) >= 2 and data[0] == 0x80 and 1 <= data[1] <= 5:
        return f"starts with the pickle protocol-{data[1]} header"
    if data[:4] == b"PK\x03\x04":
        return "is a zip archive (torch.save/joblib containers are refused)"
    if data[:1] in (b"(", b"c", b"]", b"}") and data.rstrip()[-1:] == b".":
        return "has the opcode layout of a protocol 0/1 pickle"
    return None


def _safetensors_problem(data: bytes) -> str | None:
    """Why ``data`` is not a safetensors file (8-byte length + JSON header), or None."""
    if len(data) < 8:
        return "is too short to be a safetensors file"
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data) or data[8:9] != b"{":
        return "does not have a safetensors header"
    return None


def check_member_name(name: str, where: str) -> None:
    """A relative POSIX path inside the bundle: no absolute paths, ``..`` or backslashes."""
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or "\\" in name or name.startswith("/"):
        raise BundleIntegrityError(f"{where}: file name {name!r} escapes the bundle folder")


@dataclass
class VerifiedBundle:
    """A bundle whose every byte has been checked: manifest plus the listed files' bytes."""

    source: Path
    manifest: dict[str, Any]
    files: dict[str, bytes] = field(repr=False)

    @property
    def digest(self) -> str:
        return str(self.manifest["manifest_digest"])

    def text(self, name: str) -> str:
        return self.files[name].decode("utf-8")

    def json(self, name: str) -> Any:
        return json.loads(self.text(name))


def _read_dir(root: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
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
            out[rel] = full.read_bytes()
    return out


def _read_zip(path: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename
                if info.is_dir():
                    continue
                check_member_name(name, str(path))
                mode = info.external_attr >> 16
                if mode and stat.S_ISLNK(mode):
                    raise BundleIntegrityError(f"{path}: {name!r} is a symbolic link; refused")
                if name in out:
                    raise BundleIntegrityError(f"{path}: {name!r} appears twice in the zip")
                out[name] = zf.read(info)
    except zipfile.BadZipFile as exc:
        raise BundleIntegrityError(f"{path}: not a readable zip archive ({exc})") from None
    # a zip of the bundle folder may hold everything under one top-level folder
    tops = {n.split("/", 1)[0] for n in out}
    if MANIFEST not in out and len(tops) == 1 and all("/" in n for n in out):
        top = tops.pop() + "/"
        out = {n[len(top):]: b for n, b in out.items()}
    return out


def read_verified(path: str | Path, expect_digest: str | None = None) -> VerifiedBundle:
    """Read and verify a bundle folder or zip; raise BundleIntegrityError naming the file.

    Order: manifest present and valid JSON -> format and version -> manifest digest
    (and ``expect_digest``) -> no unlisted, missing or disallowed file -> no
    pickle-like content -> every SHA-256. Nothing is deserialised beyond JSON.
    """
    src = Path(path)
    if src.is_symlink():
        raise BundleIntegrityError(f"{src}: the bundle path is a symbolic link; refused")
    if src.is_dir():
        files = _read_dir(src)
    elif src.is_file():
        files = _read_zip(src)
    else:
        raise BundleIntegrityError(f"{src}: no bundle folder or zip at this path")
    if MANIFEST not in files:
        raise BundleIntegrityError(f"{src}: {MANIFEST} is missing")
    try:
        manifest = json.loads(files[MANIFEST].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleIntegrityError(f"{src}/{MANIFEST}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleIntegrityError(f"{src}/{MANIFEST}: not an {FORMAT} manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleIntegrityError(
            f"{src}/{MANIFEST}: format_version {version!r} is not supported; this ensembler "
            f"reads version {FORMAT_VERSION}"
        )
    digest = manifest.get("manifest_digest")
    if digest != manifest_digest(manifest):
        raise BundleIntegrityError(
            f"{src}/{MANIFEST}: manifest_digest does not match its content (edited manifest)"
        )
    if expect_digest is not None and digest != expect_digest.strip().lower():
        raise BundleIntegrityError(
            f"{src}/{MANIFEST}: digest {digest} differs from the expected {expect_digest}"
        )
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise BundleIntegrityError(f"{src}/{MANIFEST}: 'files' must map paths to SHA-256")
    for name in listed:
        check_member_name(name, f"{src}/{MANIFEST}")
    unlisted = sorted(set(files) - set(listed) - {MANIFEST})
    if unlisted:
        raise BundleIntegrityError(
            f"{src}: file {unlisted[0]!r} is not listed in {MANIFEST}"
            + (f" (and {len(unlisted) - 1} more)" if len(unlisted) > 1 else "")
        )
    missing = sorted(set(listed) - set(files))
    if missing:
        raise BundleIntegrityError(f"{src}: file {missing[0]!r} listed in {MANIFEST} is missing")
    for name in sorted(listed):
        data = files[name]
        low = name.lower()
        if low.endswith(_PICKLE_SUFFIXES) or not low.endswith(ALLOWED_SUFFIXES):
            raise BundleIntegrityError(
                f"{src}: file {name!r} has a disallowed type; bundles hold only "
                f"{', '.join(ALLOWED_SUFFIXES)}"
            )
        why = _safetensors_problem(data) if low.endswith(".safetensors") \
            else looks_like_pickle(data)
        if why is not None:
            raise BundleIntegrityError(f"{src}: file {name!r} {why}; refused")
        if sha256_bytes(data) != listed[name]:
            raise BundleIntegrityError(
                f"{src}: SHA-256 of {name!r} does not match the manifest (modified or corrupt)"
            )
    return VerifiedBundle(source=src, manifest=manifest, files=files)


def seal(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Hash every file under ``folder``, fill ``files`` and ``manifest_digest``, write it."""
    files: dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            files[p.relative_to(folder).as_posix()] = sha256_bytes(p.read_bytes())
    sealed = json_clean({**manifest, "format": FORMAT, "format_version": FORMAT_VERSION,
                         "files": files})
    sealed.pop("manifest_digest", None)
    sealed["manifest_digest"] = manifest_digest(sealed)
    (folder / MANIFEST).write_text(json.dumps(sealed, indent=1, sort_keys=True) + "\n")
    return sealed


def zip_bundle(folder: Path, target: Path) -> Path:
    """Write ``folder`` as a zip (deterministic entry order) atomically to ``target``."""
    tmp = target.with_name(f".{target.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder).as_posix())
    os.replace(tmp, target)
    return target
