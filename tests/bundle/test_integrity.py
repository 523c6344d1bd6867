"""Tampering, unlisted and pickle files, symlinks, versions: every one refused, file named."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import pytest

from ensembler.bundle import export_bundle, load_bundle, read_verified
from ensembler.bundle.integrity import MANIFEST, manifest_digest
from ensembler.errors import BundleIntegrityError


@pytest.fixture(scope="module")
def pristine(tiny_run, tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("pristine") / "bundle"
    export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1)
    return out


@pytest.fixture
def bundle(pristine, tmp_path):  # type: ignore[no-untyped-def]
    copy = tmp_path / "bundle"
    shutil.copytree(pristine, copy)
    return copy


def _resign(root: Path, extra: dict[str, str] | None = None, **changes: object) -> None:
    man = json.loads((root / MANIFEST).read_text())
    man.update(changes)
    if extra:
        man["files"].update(extra)
    man["manifest_digest"] = manifest_digest(man)
    (root / MANIFEST).write_text(json.dumps(man))


def _weight_file(root: Path) -> str:
    man = json.loads((root / MANIFEST).read_text())
    return str(man["members"]["list"][0]["models"][0]["weights"])


def test_pristine_bundle_verifies(bundle: Path) -> None:
    assert read_verified(bundle).manifest["format_version"] == 1


def test_flipped_byte_in_weights_is_refused(bundle: Path) -> None:
    rel = _weight_file(bundle)
    data = bytearray((bundle / rel).read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / rel).write_bytes(bytes(data))
    with pytest.raises(BundleIntegrityError, match=rel.replace(".", r"\.")):
        load_bundle(bundle)


def test_unlisted_pickle_file_is_refused(bundle: Path) -> None:
    (bundle / "evil.pkl").write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(BundleIntegrityError, match=r"evil\.pkl.*not listed"):
        load_bundle(bundle)


def test_listed_pickle_is_refused_even_with_valid_hashes(bundle: Path) -> None:
    """An attacker who re-signs the manifest still cannot ship a pickle."""
    import hashlib

    payload = pickle.dumps([1, 2, 3])
    (bundle / "stack" / "extra.json").write_bytes(payload)
    _resign(bundle, {"stack/extra.json": hashlib.sha256(payload).hexdigest()})
    with pytest.raises(BundleIntegrityError, match=r"extra\.json.*pickle"):
        load_bundle(bundle)
    (bundle / "stack" / "extra.json").unlink()
    files = json.loads((bundle / MANIFEST).read_text())["files"]
    del files["stack/extra.json"]
    (bundle / "model.pt").write_bytes(b"{}")
    _resign(bundle, {"model.pt": hashlib.sha256(b"{}").hexdigest()}, files=files)
    with pytest.raises(BundleIntegrityError, match=r"model\.pt.*disallowed type"):
        load_bundle(bundle)


def test_missing_file_is_refused(bundle: Path) -> None:
    (bundle / "MODEL_CARD.md").unlink()
    with pytest.raises(BundleIntegrityError, match=r"MODEL_CARD\.md.*missing"):
        load_bundle(bundle)


def test_edited_manifest_is_refused(bundle: Path) -> None:
    man = json.loads((bundle / MANIFEST).read_text())
    man["operating"]["thresholds"] = [0.0]
    (bundle / MANIFEST).write_text(json.dumps(man))
    with pytest.raises(BundleIntegrityError, match=r"manifest\.json.*digest"):
        load_bundle(bundle)


def test_unknown_format_version_is_refused(bundle: Path) -> None:
    _resign(bundle, format_version=99)
    with pytest.raises(BundleIntegrityError, match="format_version 99"):
        load_bundle(bundle)


def test_expected_digest(bundle: Path) -> None:
    digest = read_verified(bundle).digest
    assert read_verified(bundle, expect_digest=digest).digest == digest
    with pytest.raises(BundleIntegrityError, match="expected"):
        read_verified(bundle, expect_digest="0" * 64)


def test_symlink_is_refused(bundle: Path, tmp_path: Path) -> None:
    target = bundle / "MODEL_CARD.md"
    outside = tmp_path / "card.md"
    shutil.move(target, outside)
    os.symlink(outside, target)
    with pytest.raises(BundleIntegrityError, match=r"MODEL_CARD\.md.*symbolic link"):
        load_bundle(bundle)


def test_tampered_zip_is_refused(bundle: Path, tmp_path: Path) -> None:
    zpath = tmp_path / "b.zip"
    rel = _weight_file(bundle)
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(bundle.rglob("*")):
            if p.is_file():
                data = p.read_bytes()
                if p.relative_to(bundle).as_posix() == rel:
                    data = data[:-1] + bytes([data[-1] ^ 0xFF])
                zf.writestr(p.relative_to(bundle).as_posix(), data)
        zf.writestr("../escape.json", b"{}")
    with pytest.raises(BundleIntegrityError, match="escape"):
        load_bundle(zpath)
