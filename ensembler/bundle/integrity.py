"""Bundle integrity: file hashes, the manifest digest, and verification before loading.

A bundle is a folder (or a ``.zip`` of one) holding ``manifest.json`` plus the files
it lists under ``files`` (relative path -> SHA-256) and ``file_sizes`` (-> bytes).
``manifest_digest`` is the SHA-256 of the canonical JSON of the manifest without that
field.

:func:`read_verified` checks the file listing (names, types, sizes) before reading
anything, then streams every file once in chunks, and hands the verified bytes to
the loader, so nothing is re-read from disk between verification and use. Nothing
here imports torch, pickle or joblib.

The digest detects corruption and tampering by anyone who does not also rewrite
the manifest; it is not a signature. Publish the digest through a separate channel
(``ensembler verify BUNDLE --expect-digest HEX``) when authenticity matters.
"""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ensembler.bundle.sources import MANIFEST, BundleSource, check_member_name
from ensembler.errors import BundleIntegrityError
from ensembler.utils.atomic import atomic_path
from ensembler.utils.hashing import canonical_json

FORMAT = "ensembler-bundle"
FORMAT_VERSION = 1
#: Largest manifest.json read, and largest file of any other kind (the "sane limit";
#: the manifest's own ``file_sizes`` are checked first). Checked before reading.
MAX_MANIFEST_BYTES = 64 << 20
MAX_FILE_BYTES = 2 << 30
SNIFF_BYTES = 64  # head/tail kept per file for the pickle and safetensors checks
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


def looks_like_pickle(data: bytes, tail: bytes | None = None) -> str | None:
    """Why a file looks like a pickle or a torch/joblib archive, or None.

    ``data`` is the file's start (or all of it), ``tail`` its last bytes (default: the
    end of ``data``). Defence in depth on top of the suffix allowlist: protocol 2-5
    pickles start with ``0x80 <proto>``; ``torch.save`` archives are zips with a
    ``data.pkl`` entry (no bundle file is a zip); protocol 0/1 pickles end with the STOP
    opcode ``.`` after a MARK/GLOBAL opener.
    """
    end = data if tail is None else tail
    if len(data) >= 2 and data[0] == 0x80 and 1 <= data[1] <= 5:
        return f"starts with the pickle protocol-{data[1]} header"
    if data[:4] == b"PK\x03\x04":
        return "is a zip archive (torch.save/joblib containers are refused)"
    if data[:1] in (b"(", b"c", b"]", b"}") and end.rstrip()[-1:] == b".":
        return "has the opcode layout of a protocol 0/1 pickle"
    return None


def _safetensors_problem(head: bytes, size: int) -> str | None:
    """Why a file starting with ``head`` is not a safetensors file, or None (quick check;
    :mod:`ensembler.bundle.weights` parses the header fully)."""
    if size < 8 or len(head) < 9:
        return "is too short to be a safetensors file"
    n = int.from_bytes(head[:8], "little")
    if n <= 0 or 8 + n > size or head[8:9] != b"{":
        return "does not have a safetensors header"
    return None


@dataclass
class VerifiedBundle:
    """A bundle whose every byte has been checked: manifest plus the listed files' bytes.

    ``files`` is empty when verified with ``keep_bytes=False`` (streamed, nothing kept).
    """

    source: Path
    manifest: dict[str, Any]
    files: dict[str, bytes] = field(repr=False)
    is_zip: bool = False

    @property
    def digest(self) -> str:
        return str(self.manifest["manifest_digest"])

    def text(self, name: str) -> str:
        return self.files[name].decode("utf-8")

    def json(self, name: str) -> Any:
        return json.loads(self.text(name))


def _read_manifest(src: BundleSource, expect_digest: str | None
                   ) -> tuple[dict[str, Any], bytes]:
    where = f"{src.path}/{MANIFEST}"
    if MANIFEST not in src.sizes:
        raise BundleIntegrityError(f"{src.path}: {MANIFEST} is missing")
    if src.sizes[MANIFEST] > MAX_MANIFEST_BYTES:
        raise BundleIntegrityError(f"{where}: {src.sizes[MANIFEST]} bytes; a manifest is at "
                                   f"most {MAX_MANIFEST_BYTES} bytes")
    raw = src.read(MANIFEST)
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleIntegrityError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleIntegrityError(f"{where}: not an {FORMAT} manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleIntegrityError(
            f"{where}: format_version {version!r} is not supported; this ensembler "
            f"reads version {FORMAT_VERSION}"
        )
    digest = manifest.get("manifest_digest")
    if digest != manifest_digest(manifest):
        raise BundleIntegrityError(
            f"{where}: manifest_digest does not match its content (edited manifest)"
        )
    if expect_digest is not None and digest != expect_digest.strip().lower():
        raise BundleIntegrityError(
            f"{where}: digest {digest} differs from the expected {expect_digest}"
        )
    return manifest, raw


def _check_listing(src: BundleSource, manifest: dict[str, Any]) -> dict[str, str]:
    """Names, types and sizes of every file, before any of them is read."""
    where = f"{src.path}/{MANIFEST}"
    listed = manifest.get("files")
    sizes = manifest.get("file_sizes", {})
    if not isinstance(listed, dict) or not isinstance(sizes, dict):
        raise BundleIntegrityError(f"{where}: 'files' must map paths to SHA-256 and "
                                   "'file_sizes' paths to byte counts")
    for name in listed:
        check_member_name(name, where)
    unlisted = sorted(set(src.sizes) - set(listed) - {MANIFEST})
    if unlisted:
        raise BundleIntegrityError(
            f"{src.path}: file {unlisted[0]!r} is not listed in {MANIFEST}"
            + (f" (and {len(unlisted) - 1} more)" if len(unlisted) > 1 else "")
        )
    missing = sorted(set(listed) - set(src.sizes))
    if missing:
        raise BundleIntegrityError(f"{src.path}: file {missing[0]!r} listed in {MANIFEST} "
                                   "is missing")
    for name in sorted(listed):
        low = name.lower()
        if low.endswith(_PICKLE_SUFFIXES) or not low.endswith(ALLOWED_SUFFIXES):
            raise BundleIntegrityError(
                f"{src.path}: file {name!r} has a disallowed type; bundles hold only "
                f"{', '.join(ALLOWED_SUFFIXES)}"
            )
        size, want = src.sizes[name], sizes.get(name)
        if want is not None and size != want:
            raise BundleIntegrityError(f"{src.path}: file {name!r} is {size} bytes (declared "
                                       f"by the archive); the manifest says {want}; refused")
        if size > MAX_FILE_BYTES:
            raise BundleIntegrityError(f"{src.path}: file {name!r} is {size} bytes, over the "
                                       f"limit of {MAX_FILE_BYTES} bytes per file; refused")
    return listed


def _check_file(src: BundleSource, name: str, sha: str, keep: bool) -> bytes | None:
    """Stream ``name`` once: hash in chunks, sniff its head and tail; its bytes if ``keep``."""
    h = hashlib.sha256()
    head, tail, parts = b"", b"", []
    for block in src.chunks(name):
        h.update(block)
        if len(head) < SNIFF_BYTES:
            head += block[: SNIFF_BYTES - len(head)]
        tail = (tail + block)[-SNIFF_BYTES:]
        if keep:
            parts.append(block)
    why = _safetensors_problem(head, src.sizes[name]) \
        if name.lower().endswith(".safetensors") else looks_like_pickle(head, tail)
    if why is not None:
        raise BundleIntegrityError(f"{src.path}: file {name!r} {why}; refused")
    if h.hexdigest() != sha:
        raise BundleIntegrityError(
            f"{src.path}: SHA-256 of {name!r} does not match the manifest (modified or corrupt)"
        )
    return b"".join(parts) if keep else None


def read_verified(path: str | Path, expect_digest: str | None = None,
                  keep_bytes: bool | frozenset[str] = True) -> VerifiedBundle:
    """Read and verify a bundle folder or zip; raise BundleIntegrityError naming the file.

    Order: list the files (names and sizes, nothing read) -> manifest present, small and
    valid JSON -> format and version -> manifest digest (and ``expect_digest``) -> no
    unlisted, missing, disallowed or oversized file (sizes against the manifest's
    ``file_sizes`` and :data:`MAX_FILE_BYTES`) -> stream every file once in chunks: no
    pickle-like content, every SHA-256. Nothing is deserialised beyond JSON.

    ``keep_bytes``: keep the verified bytes for the loader (``files``); False (or a set
    of the only names to keep) holds nothing else in memory (``ensembler verify``).
    """
    src_path = Path(path)
    with BundleSource(src_path) as src:
        manifest, raw = _read_manifest(src, expect_digest)
        listed = _check_listing(src, manifest)
        files: dict[str, bytes] = {MANIFEST: raw}
        for name in sorted(listed):
            keep = keep_bytes if isinstance(keep_bytes, bool) else name in keep_bytes
            data = _check_file(src, name, listed[name], keep)
            if data is not None:
                files[name] = data
        return VerifiedBundle(source=src_path, manifest=manifest, files=files,
                              is_zip=src.is_zip)


def is_bundle(path: Path) -> bool:
    """Whether ``path`` (folder or zip) holds an ensembler bundle manifest, so an export
    may replace it. Only the manifest is read."""
    try:
        with BundleSource(path) as src:
            if src.sizes.get(MANIFEST, MAX_MANIFEST_BYTES + 1) > MAX_MANIFEST_BYTES:
                return False
            man = json.loads(src.read(MANIFEST).decode("utf-8"))
    except (BundleIntegrityError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(man, dict) and man.get("format") == FORMAT


def seal(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Hash every file under ``folder``, fill ``files`` and ``manifest_digest``, write it."""
    files: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            rel = p.relative_to(folder).as_posix()
            files[rel] = sha256_bytes(p.read_bytes())
            sizes[rel] = p.stat().st_size
    sealed = json_clean({**manifest, "format": FORMAT, "format_version": FORMAT_VERSION,
                         "files": files, "file_sizes": sizes})
    sealed.pop("manifest_digest", None)
    sealed["manifest_digest"] = manifest_digest(sealed)
    (folder / MANIFEST).write_text(json.dumps(sealed, indent=1, sort_keys=True) + "\n")
    return sealed


def zip_bundle(folder: Path, target: Path) -> Path:
    """Write ``folder`` as a zip (deterministic entry order) atomically to ``target``."""
    with atomic_path(target, ".zip") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(folder).as_posix())
    return target
