"""A bundle never runs code, bad weight headers fail verify, and verify reads in bounded
memory (issue 12 items 7, 8, 9), on real files built from an exported tiny run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import torch
from clirun import run_cli
from safetensors.torch import load as load_st
from safetensors.torch import save as save_st

from ensembler.bundle import export_bundle, integrity, load_bundle, read_verified
from ensembler.bundle.integrity import MANIFEST, manifest_digest
from ensembler.bundle.weights import verify_bundle
from ensembler.errors import BundleIntegrityError


@pytest.fixture(scope="module")
def pristine(tiny_run, tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("untrusted") / "bundle"
    export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1, parity=False)
    return out


@pytest.fixture
def bundle(pristine, tmp_path):  # type: ignore[no-untyped-def]
    copy = tmp_path / "bundle"
    shutil.copytree(pristine, copy)
    return copy


def _manifest(root: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((root / MANIFEST).read_text())


def _reseal(root: Path, man: dict, changed: list[str] = ()) -> None:  # type: ignore[type-arg,assignment]
    """Re-sign the manifest as an attacker who rewrites it would (hashes, sizes, digest)."""
    for rel in changed:
        data = (root / rel).read_bytes()
        man["files"][rel] = hashlib.sha256(data).hexdigest()
        man["file_sizes"][rel] = len(data)
    man["manifest_digest"] = manifest_digest(man)
    (root / MANIFEST).write_text(json.dumps(man))


# ---- item 7: a manifest naming "module:callable" imports nothing ----------------------

EVIL = textwrap.dedent("""
    from pathlib import Path
    Path({marker!r}).write_text("code from a bundle ran")

    def build(n_leads, n_classes, n_tabular=0, fusion="none", **hparams):
        from base_models import create_model
        return create_model("cnn1d", n_leads, n_classes, n_tabular, fusion, **hparams)
""")


@pytest.fixture
def evil_bundle(bundle, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    marker = tmp_path / "PWNED"
    mod_dir = tmp_path / "mods"
    mod_dir.mkdir()
    (mod_dir / "evil_arch_h12b.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(mod_dir))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(mod_dir), *sys.path]))
    man = _manifest(bundle)
    for entry in man["members"]["list"]:
        entry["arch"] = entry["spec"]["arch"] = "evil_arch_h12b:build"
    _reseal(bundle, man)
    yield bundle, marker
    sys.modules.pop("evil_arch_h12b", None)


def test_untrusted_arch_is_never_imported(evil_bundle, tiny_run, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    bundle, marker = evil_bundle
    read_verified(bundle)  # the files are intact: only the architecture rule can stop it
    for call in (lambda: verify_bundle(bundle), lambda: load_bundle(bundle),
                 lambda: load_bundle(bundle, backend="onnx")):
        with pytest.raises(BundleIntegrityError, match=r"evil_arch_h12b:build.*--allow-arch"):
            call()
    for args in (["verify", str(bundle)], ["inspect", str(bundle)],
                 ["predict", str(bundle), str(tiny_run.record_dir), "--out",
                  str(bundle.parent / "p.csv")]):
        assert run_cli(monkeypatch, *args) == 2
        err = capsys.readouterr().err
        assert "evil_arch_h12b:build" in err and "Traceback" not in err
    assert not marker.exists()
    assert "evil_arch_h12b" not in sys.modules


def test_allowed_user_architecture_is_loaded(evil_bundle, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    bundle, marker = evil_bundle
    with pytest.raises(BundleIntegrityError):
        verify_bundle(bundle, allow_arch=["other:thing"])  # allowing something else: no
    assert not marker.exists()
    assert run_cli(monkeypatch, "verify", str(bundle), "--allow-arch",
                   "evil_arch_h12b:build") == 0, capsys.readouterr().err
    assert marker.exists()  # the loading user chose to trust it
    load_bundle(bundle, allow_arch=["evil_arch_h12b:build"])


def test_arch_fields_must_agree(bundle) -> None:  # type: ignore[no-untyped-def]
    man = _manifest(bundle)
    man["members"]["list"][0]["arch"] = "resnet1d"
    _reseal(bundle, man)
    with pytest.raises(BundleIntegrityError, match="names architecture"):
        verify_bundle(bundle)


# ---- item 8: safetensors headers parsed fully and checked against the architecture ----

def _weights(root: Path) -> str:
    return str(_manifest(root)["members"]["list"][0]["models"][0]["weights"])


def test_garbage_header_fails_verify_naming_the_file(bundle, tiny_run, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    rel = _weights(bundle)
    body = b'{"weight": garbage, not json at all}'
    (bundle / rel).write_bytes(len(body).to_bytes(8, "little") + body + b"\0" * 64)
    _reseal(bundle, _manifest(bundle), [rel])
    read_verified(bundle)  # hashes and the quick header sniff agree: the attacker re-signed
    with pytest.raises(BundleIntegrityError, match=rf"{rel}: not a valid safetensors file"):
        verify_bundle(bundle)
    with pytest.raises(BundleIntegrityError, match=rf"{rel}: not a valid safetensors file"):
        load_bundle(bundle)
    assert run_cli(monkeypatch, "verify", str(bundle)) == 2
    err = capsys.readouterr().err
    assert rel in err and "Traceback" not in err
    assert run_cli(monkeypatch, "predict", str(bundle), str(tiny_run.record_dir), "--out",
                   str(bundle.parent / "p.csv")) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("change", ["dtype", "shape", "extra", "missing"])
def test_tensor_mismatch_names_file_and_tensor(bundle, change) -> None:  # type: ignore[no-untyped-def]
    rel = _weights(bundle)
    tensors = dict(load_st((bundle / rel).read_bytes()))
    name = sorted(k for k, v in tensors.items() if v.dtype == torch.float32)[0]
    if change == "dtype":
        tensors[name] = tensors[name].half()
    elif change == "shape":
        tensors[name] = torch.cat([tensors[name], tensors[name]])
    elif change == "extra":
        tensors["backdoor.weight"] = torch.zeros(3)
    else:
        del tensors[name]
    (bundle / rel).write_bytes(save_st(tensors))
    _reseal(bundle, _manifest(bundle), [rel])
    pattern = {"dtype": rf"{rel}: tensor '{name}' is F16", "shape": rf"{rel}: tensor '{name}'",
               "extra": "unexpected tensor.*backdoor", "missing": "missing tensor"}[change]
    with pytest.raises(BundleIntegrityError, match=pattern):
        verify_bundle(bundle)
    with pytest.raises(BundleIntegrityError, match=pattern):
        load_bundle(bundle)


def test_zip_bundle_headers_are_checked(bundle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rel = _weights(bundle)
    tensors = dict(load_st((bundle / rel).read_bytes()))
    name = sorted(tensors)[0]
    tensors[name] = tensors[name].double()
    (bundle / rel).write_bytes(save_st(tensors))
    _reseal(bundle, _manifest(bundle), [rel])
    zp = integrity.zip_bundle(bundle, tmp_path / "b.zip")
    with pytest.raises(BundleIntegrityError, match=rf"b\.zip/{rel}: tensor '{name}' is F64"):
        verify_bundle(zp)


def test_pristine_bundle_passes_the_deep_check(pristine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    vb = verify_bundle(pristine)
    assert vb.files.keys() == {MANIFEST}  # streamed: nothing else kept in memory
    verify_bundle(integrity.zip_bundle(pristine, tmp_path / "b.zip"))


# ---- item 9: the listing first, hashes streamed, oversized entries refused unread ------

BIG = 300 << 20  # declared (uncompressed) bytes of the bomb-ish entry


def _zip_with(pristine: Path, target: Path, big_name: str) -> Path:
    """The bundle as a zip whose ``big_name`` entry is BIG bytes of zeros (~300 kB packed)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(pristine.rglob("*")):
            rel = p.relative_to(pristine).as_posix()
            if p.is_file() and rel != big_name:
                zf.write(p, rel)
        with zf.open(big_name, "w") as fh:
            block = b"\0" * (4 << 20)
            for _ in range(BIG // len(block)):
                fh.write(block)
    return target


PEAK = textwrap.dedent("""
    import resource, sys
    from ensembler.bundle.integrity import read_verified
    from ensembler.errors import BundleIntegrityError
    try:
        read_verified(sys.argv[1], keep_bytes=sys.argv[2] == "keep")
        print("accepted")
    except BundleIntegrityError as exc:
        print("refused:", exc)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
""")


def _peak_kib(path: Path, keep: bool = True) -> tuple[str, int]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", PEAK, str(path), "keep" if keep else "stream"],
                         capture_output=True, text=True, env=env, check=True).stdout
    verdict, peak = out.strip().rsplit("\n", 1)
    return verdict, int(peak)


@pytest.mark.slow
@pytest.mark.parametrize("big_name", ["MODEL_CARD.md", "members/extra.json"])
def test_oversized_zip_entry_is_refused_unread(pristine, tmp_path, big_name) -> None:  # type: ignore[no-untyped-def]
    """A listed entry larger than the manifest says, or an unlisted one: refused before
    reading; peak RSS stays near a pristine verify instead of growing by 300 MB."""
    bomb = _zip_with(pristine, tmp_path / "bomb.zip", big_name)
    assert bomb.stat().st_size < 3 << 20
    ok_zip = integrity.zip_bundle(pristine, tmp_path / "ok.zip")
    verdict, base = _peak_kib(ok_zip)
    assert verdict == "accepted"
    verdict, peak = _peak_kib(bomb)
    assert verdict.startswith("refused:") and big_name in verdict
    assert ("manifest says" if big_name == "MODEL_CARD.md" else "not listed") in verdict
    assert peak - base < 50 << 10, f"peak RSS grew by {(peak - base) >> 10} MiB"


def test_sane_limit_without_manifest_sizes(pristine, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "b"
    shutil.copytree(pristine, root)
    man = _manifest(root)
    del man["file_sizes"]  # a bundle that declares no sizes still has the sane limit
    _reseal(root, man)
    monkeypatch.setattr(integrity, "MAX_FILE_BYTES", 1000)
    with pytest.raises(BundleIntegrityError, match="over the limit of 1000 bytes"):
        read_verified(integrity.zip_bundle(root, tmp_path / "b.zip"))


@pytest.mark.slow
def test_verify_streams_large_files(pristine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A legitimate large listed file is hashed in chunks: verify's memory does not grow."""
    root = tmp_path / "b"
    shutil.copytree(pristine, root)
    with open(root / "notes.txt", "wb") as fh:
        for _ in range(BIG // (4 << 20)):
            fh.write(os.urandom(1024) * 4096)
    _reseal(root, _manifest(root), ["notes.txt"])
    verdict, base = _peak_kib(pristine, keep=False)
    verdict_big, peak = _peak_kib(root, keep=False)
    assert verdict == verdict_big == "accepted"
    assert peak - base < 50 << 10, f"peak RSS grew by {(peak - base) >> 10} MiB"


@pytest.mark.parametrize("arch", ["cnn1d", "s4d", "vit1d", "cnn_lstm", "inception1d"])
def test_meta_device_header_equals_real_weights(arch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The meta-device build that verify compares against is exactly what training saves."""
    from safetensors.torch import save_file

    from base_models import create_model
    from ensembler.bundle.weights import compare_headers, header_of_file, header_of_tensors

    real = create_model(arch, 12, 2, n_tabular=3, fusion="intermediate")
    save_file({k: v.contiguous() for k, v in real.state_dict().items()},
              str(tmp_path / "w.safetensors"))
    with torch.device("meta"):
        meta = create_model(arch, 12, 2, n_tabular=3, fusion="intermediate")
    compare_headers(header_of_file(tmp_path / "w.safetensors", "w"),
                    header_of_tensors(meta.state_dict()), "w", arch)


def test_export_allows_the_runs_own_user_architecture(tiny_run, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The exporter trained its user architecture, so export (and its reload) may build it;
    the receiver of the bundle still has to allow it."""
    marker = tmp_path / "IMPORTED"
    mod_dir = tmp_path / "mods"
    mod_dir.mkdir()
    (mod_dir / "user_arch_h12b.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(mod_dir))
    run = tmp_path / "run"
    shutil.copytree(tiny_run.run_dir, run)
    for record in run.glob("predictions/*.json"):  # the member's spec (stored only here)
        doc = json.loads(record.read_text())
        doc["config"]["arch"] = "user_arch_h12b:build"
        record.write_text(json.dumps(doc))
    try:
        res = export_bundle(run, tmp_path / "b", onnx=False, zip=False, latency_repeats=1,
                            parity=False)
        assert {m["arch"] for m in res.manifest["members"]["list"]} == {"user_arch_h12b:build"}
        assert marker.exists()
        with pytest.raises(BundleIntegrityError, match="--allow-arch user_arch_h12b:build"):
            load_bundle(res.path)
        load_bundle(res.path, allow_arch=["user_arch_h12b:build"])
    finally:
        sys.modules.pop("user_arch_h12b", None)
