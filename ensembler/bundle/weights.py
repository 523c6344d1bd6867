"""What a bundle may build, and whether its weight files fit, checked without running code.

* **Architectures.** A member's ``arch`` must be registered in :mod:`base_models`, or a
  user ``"module.path:callable"`` that the *loading* user allowed (``allow_arch``,
  ``--allow-arch`` on the CLI). Anything else is refused before any import: a bundle
  never makes the receiver import a module it names.
* **Weights.** Each safetensors header is parsed fully by safetensors' own reader
  (``safe_open``: tensor names, dtypes and shapes, no tensor loaded) and compared with
  the architecture's state dict built on the meta device (no memory, no init). Errors
  name the file and the tensor.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from ensembler.bundle.feature_io import (
    check_feature_set,
    entry_files,
    is_feature_entry,
    load_feature_member,
)
from ensembler.bundle.integrity import (
    MANIFEST,
    MAX_MANIFEST_BYTES,
    VerifiedBundle,
    read_verified,
)
from ensembler.bundle.sources import BundleSource
from ensembler.errors import BundleIntegrityError
from ensembler.training.loop import build_model
from ensembler.training.members import MemberSpec

#: tensor name -> (safetensors dtype name, shape)
Header = dict[str, tuple[str, tuple[int, ...]]]

#: torch dtype -> the dtype names of the safetensors format (its header's "dtype" field)
_DTYPE_NAMES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
                torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
                torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def check_architectures(manifest: Mapping[str, Any], allow_arch: Collection[str],
                        where: str) -> None:
    """Every member's architecture is registered or explicitly allowed (nothing imported),
    and every file a member names is a listed (hence verified) file of the bundle."""
    from base_models import BaseModelsError, check_allowed

    try:
        entries = list(manifest["members"]["list"])
        named = [(e.get("name"), m[k]) for e in entries for m in e["models"]
                 for k in ("weights", "state", "onnx") if k in m]
        named += [(e.get("name"), f) for e in entries if is_feature_entry(e)
                  for f in entry_files(e)]
    except (KeyError, TypeError, AttributeError):
        raise BundleIntegrityError(f"{where}/{MANIFEST}: 'members' is malformed") from None
    for member, name in named:
        if name not in manifest["files"]:
            raise BundleIntegrityError(f"{where}/{MANIFEST}: member {member!r} names file "
                                       f"{name!r}, which is not a listed file of the bundle")
    for entry in entries:
        if is_feature_entry(entry):
            check_feature_set(entry, allow_arch, f"{where}/{MANIFEST}")
            continue
        arch, spec_arch = entry.get("arch"), entry.get("spec", {}).get("arch")
        if arch != spec_arch:
            raise BundleIntegrityError(f"{where}/{MANIFEST}: member {entry.get('name')!r} "
                                       f"names architecture {arch!r} and {spec_arch!r}")
        try:
            check_allowed(str(arch), allow_arch)
        except BaseModelsError as exc:
            raise BundleIntegrityError(f"{where}/{MANIFEST}: member {entry.get('name')!r}: "
                                       f"{exc}") from None


def header_of_tensors(tensors: Mapping[str, torch.Tensor]) -> Header:
    return {k: (_DTYPE_NAMES.get(v.dtype, str(v.dtype)), tuple(v.shape))
            for k, v in tensors.items()}


def expected_header(spec: MemberSpec, n_leads: int, n_classes: int,
                    allow_arch: Collection[str]) -> Header:
    """The architecture's state dict (names, dtypes, shapes), built on the meta device."""
    with torch.device("meta"):
        model = build_model(spec, n_leads, n_classes, allow_user=allow_arch)
    return header_of_tensors(model.state_dict())


def header_of_file(path: Path, where: str) -> Header:
    """Names, dtypes and shapes of a safetensors file, read by safetensors (no tensor loaded)."""
    try:
        with safe_open(str(path), framework="pt") as f:  # type: ignore[no-untyped-call]
            out: Header = {}
            for k in f.keys():
                sl = f.get_slice(k)
                out[k] = (str(sl.get_dtype()), tuple(int(d) for d in sl.get_shape()))
            return out
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleIntegrityError(f"{where}: not a valid safetensors file ({exc})") from None


def compare_headers(got: Header, want: Header, where: str, arch: str) -> None:
    """Raise BundleIntegrityError naming ``where`` unless ``got`` matches ``want`` exactly."""
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing or extra:
        parts = ([f"missing tensor(s) {missing[:3]}"] if missing else []) + \
            ([f"unexpected tensor(s) {extra[:3]}"] if extra else [])
        raise BundleIntegrityError(f"{where}: weights do not fit architecture {arch!r}: "
                                   + "; ".join(parts))
    for name in sorted(want):
        if got[name] != want[name]:
            (gd, gs), (wd, ws) = got[name], want[name]
            raise BundleIntegrityError(
                f"{where}: tensor {name!r} is {gd} {list(gs)}; architecture {arch!r} expects "
                f"{wd} {list(ws)}")


def _weight_headers(vb: VerifiedBundle, names: list[str]) -> dict[str, Header]:
    """Headers of the weight files: read in place (folder) or from a bounded temp copy (zip)."""
    out: dict[str, Header] = {}
    if not vb.is_zip:
        for name in names:
            out[name] = header_of_file(vb.source / name, f"{vb.source}/{name}")
        return out
    with BundleSource(vb.source) as src, tempfile.TemporaryDirectory() as tmp:
        for name in names:
            copy = Path(tmp) / "weights.safetensors"
            with open(copy, "wb") as fh:
                for block in src.chunks(name):
                    fh.write(block)
            out[name] = header_of_file(copy, f"{vb.source}/{name}")
    return out


def _feature_files(path: Path) -> frozenset[str]:
    """Names of the feature members' small files (kept in memory to be parsed), read from
    the manifest before verification only to choose what to keep; the verified manifest
    must name the same files (a missing one is an error in :func:`load_feature_member`)."""
    try:
        with BundleSource(path) as src:
            if src.sizes.get(MANIFEST, MAX_MANIFEST_BYTES + 1) > MAX_MANIFEST_BYTES:
                return frozenset()
            man = json.loads(src.read(MANIFEST).decode("utf-8"))
        return frozenset(f for e in man["members"]["list"] if is_feature_entry(e)
                         for f in entry_files(e))
    except (BundleIntegrityError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return frozenset()  # read_verified reports what is wrong


def verify_bundle(path: str | Path, expect_digest: str | None = None,
                  allow_arch: Collection[str] = (), keep: Collection[str] = ()
                  ) -> VerifiedBundle:
    """Everything :func:`read_verified` checks (streamed, nothing kept in memory but the
    files named in ``keep``), then the architecture rule and every weight file's header
    against its architecture.

    Raises
    ------
    BundleIntegrityError
        Naming the file (and tensor) that fails.
    """
    from ensembler.training.members import spec_from_description

    vb = read_verified(path, expect_digest,
                       keep_bytes=frozenset(keep) | _feature_files(Path(path)))
    man = vb.manifest
    check_architectures(man, allow_arch, str(vb.source))
    n_leads, n_classes = len(man["input"]["lead_names"]), len(man["task"]["class_names"])
    for entry in man["members"]["list"]:
        if is_feature_entry(entry):  # feature set rebuilt and checked, boosters parsed
            load_feature_member(entry, vb.files, man["input"]["lead_names"],
                                man["input"]["fs"], n_classes, allow_arch, str(vb.source))
            continue
        spec = spec_from_description(entry["spec"])
        want = expected_header(spec, n_leads, n_classes, allow_arch)
        names = [m["weights"] for m in entry["models"]]
        for name, got in _weight_headers(vb, names).items():
            compare_headers(got, want, f"{vb.source}/{name}", spec.arch)
    return vb
