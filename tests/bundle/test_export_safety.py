"""Export never deletes a user's folder, cleans up when killed, honours the umask and needs
only the run directory (issue 12 items 4, 6, 10, 14), on real exports of the tiny run."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from clirun import run_cli

from ensembler.bundle import export_bundle, read_verified
from ensembler.bundle.integrity import MANIFEST
from ensembler.errors import StageError
from ensembler.utils.atomic import FolderExistsError


def _hidden(folder: Path, name: str = "bundle") -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(f".{name}."))


# ---- item 4: a foreign folder is never deleted; a bundle is replaced atomically ----------

def test_export_into_a_foreign_folder_is_refused(tiny_run, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "my_documents"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    (out / "data").mkdir()
    (out / "data" / "ecg.csv").write_text("1,2,3")
    code = run_cli(monkeypatch, "export", str(tiny_run.run_dir), "--out", str(out), "--no-zip",
                   "--no-onnx")
    assert code == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--force" in err and "Traceback" not in err
    assert (out / "thesis.docx").read_text() == "years of work"
    assert (out / "data" / "ecg.csv").read_text() == "1,2,3"
    assert _hidden(tmp_path, "my_documents") == []


def test_force_replaces_a_foreign_folder(tiny_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "scratch"
    out.mkdir()
    (out / "old.txt").write_text("x")
    with pytest.raises(FolderExistsError):
        export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1)
    export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, force=True, onnx=False, zip=False,
                  latency_repeats=1)
    assert not (out / "old.txt").exists()
    read_verified(out)


def test_a_foreign_zip_next_to_the_bundle_is_refused(tiny_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "b"
    (tmp_path / "b.zip").write_text("my own archive")
    with pytest.raises(FolderExistsError, match="not a bundle zip"):
        export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=True,
                      latency_repeats=1)
    assert (tmp_path / "b.zip").read_text() == "my own archive"
    assert not out.exists()


def test_existing_bundle_replaced_and_kept_on_failure(tiny_run, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "b"
    first = export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1)
    import ensembler.bundle.export as export_mod

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise StageError("parity failed (simulated)")

    monkeypatch.setattr(export_mod, "cache_parity", broken)
    with pytest.raises(StageError, match="simulated"):
        export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1)
    assert read_verified(out).digest == first.manifest["manifest_digest"]
    monkeypatch.undo()
    second = export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1)
    assert read_verified(out).digest == second.manifest["manifest_digest"]
    assert _hidden(tmp_path) == []


def test_run_dir_and_report_refuse_foreign_folders(tiny_run, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from ensembler.pipeline.context import RunContext
    from ensembler.report import write_report_dir

    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("keep")
    with pytest.raises(FolderExistsError, match="not written by ensembler"):
        RunContext.create(tiny_run.cfg, home, progress=False)
    with pytest.raises(FolderExistsError):
        write_report_dir(home, {"metrics.json": b"{}"})
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump(tiny_run.cfg.model_dump(mode="json")))
    assert run_cli(monkeypatch, "cache", str(cfg_file), "--run-dir", str(home)) == 2
    assert "not written by ensembler" in capsys.readouterr().err
    assert (home / "notes.txt").read_text() == "keep"
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]  # not even a lock file


def test_file_outputs_refuse_a_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """predict --out and evaluate --out write through the atomic file writer."""
    from ensembler.utils.atomic import write_text

    (tmp_path / "preds.csv").mkdir()
    (tmp_path / "preds.csv" / "mine.txt").write_text("keep")
    with pytest.raises(FolderExistsError, match="is a folder"):
        write_text(tmp_path / "preds.csv", "record\n")
    assert (tmp_path / "preds.csv" / "mine.txt").read_text() == "keep"
    from ensembler.bundle.evaluate import write_report

    (tmp_path / "val.json").mkdir()
    with pytest.raises(FolderExistsError, match=r"val\.json: is a folder"):
        write_report({"anything": 1}, tmp_path / "val")
    assert not (tmp_path / "val.md").exists()  # nothing half-written


# ---- item 6: SIGTERM cleans up; leftovers of SIGKILL are reported and ignored -------------

EXPORT_SCRIPT = textwrap.dedent("""
    import sys
    from ensembler.bundle import export_bundle
    export_bundle(sys.argv[1], sys.argv[2], onnx=False, zip=False, latency_repeats=200)
""")


def _start_export(run_dir: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", EXPORT_SCRIPT, str(run_dir), str(out)],
                            env=env, stderr=subprocess.PIPE)


def _wait_for_temp(proc: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 120
    while not _hidden(folder):
        assert proc.poll() is None, "export ended before writing its temporary folder"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.5)  # well inside the write


@pytest.mark.slow
def test_sigterm_during_export_leaves_nothing(tiny_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "bundle"
    proc = _start_export(tiny_run.run_dir, out)
    _wait_for_temp(proc, tmp_path)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert _hidden(tmp_path) == [] and not out.exists()


@pytest.mark.slow
def test_leftovers_of_a_killed_export_are_reported_and_ignored(tiny_run, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "bundle"
    proc = _start_export(tiny_run.run_dir, out)
    _wait_for_temp(proc, tmp_path)
    proc.kill()
    proc.wait(timeout=60)
    left = _hidden(tmp_path)
    assert len(left) == 1  # a hard kill cannot clean up...
    with caplog.at_level(logging.WARNING):
        export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1)
    assert str(left[0]) in caplog.text  # ...but the next run names it
    read_verified(out)  # and ignores it


# ---- item 10: the user's umask, not mkdtemp's 0700 ------------------------------------

@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_bundle_and_fold_folders_follow_the_umask(tiny_run, tmp_path, mask) -> None:  # type: ignore[no-untyped-def]
    old = os.umask(mask)
    try:
        res = export_bundle(tiny_run.run_dir, tmp_path / "b", cohort=tiny_run.cohort,
                            onnx=False, zip=True, latency_repeats=1)
    finally:
        os.umask(old)
    folders = [res.path, *[p for p in res.path.rglob("*") if p.is_dir()]]
    files = [p for p in res.path.rglob("*") if p.is_file()]
    assert res.zip_path is not None
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o777 & ~mask}
    assert {stat.S_IMODE(p.stat().st_mode) for p in [*files, res.zip_path]} == {0o666 & ~mask}


def test_run_fold_folders_follow_the_umask(tiny_run) -> None:  # type: ignore[no-untyped-def]
    mask = os.umask(0)
    os.umask(mask)
    for sub in ("base/cnn/fold_0", "base/fused/full", f"stack/{tiny_run.stack_name}"):
        folder = tiny_run.run_dir / sub
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~mask, sub
    caches = [p for p in (tiny_run.run_dir / "cohort").iterdir() if (p / "info.json").is_file()]
    assert caches and stat.S_IMODE(caches[0].stat().st_mode) == 0o777 & ~mask


# ---- item 14: export needs only the run directory; raw parity is optional -------------

def _detached_run(tiny_run, tmp_path: Path, reachable: bool) -> Path:  # type: ignore[no-untyped-def]
    """A copy of the run whose config names PTB-XL without a path (as when the data
    folder's variable is unset) and, unless ``reachable``, whose raw records are gone."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run.run_dir, run, ignore=shutil.ignore_patterns("synthetic"))
    cfg_path = run / "config.resolved.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["data"]["source"] = "ptbxl"
    cfg["data"]["ptbxl"]["path"] = None
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    if not reachable:
        for meta_csv in run.glob("cohort/*/metadata.csv"):
            df = pd.read_csv(meta_csv, dtype=str, keep_default_na=False)
            df["path"] = [str(tmp_path / "gone" / Path(p).name) for p in df["path"]]
            df.to_csv(meta_csv, index=False)
    return run


def test_export_without_the_data_folder(tiny_run, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ENSEMBLER_PTBXL_DIR", raising=False)
    run = _detached_run(tiny_run, tmp_path, reachable=False)
    out = tmp_path / "bundle"
    assert run_cli(monkeypatch, "export", str(run), "--out", str(out), "--no-zip",
                   "--no-onnx") == 0, capsys.readouterr().err
    assert "raw-record parity not run" in capsys.readouterr().out
    man = json.loads((out / MANIFEST).read_text())
    assert man["parity"]["checked"] and man["parity"]["max_abs_diff"] <= 1e-5
    raw = man["parity"]["raw_records"]
    assert raw["ran"] is False and "not reachable" in raw["reason"]
    card = (out / "MODEL_CARD.md").read_text()
    assert "from raw WFDB files did not run" in card and "not reachable" in card
    code = run_cli(monkeypatch, "export", str(run), "--out", str(out), "--no-zip",
                   "--no-onnx", "--parity")
    assert code == 2 and "--parity" in capsys.readouterr().err
    read_verified(out)  # the refused re-export left the previous bundle in place


def test_raw_parity_runs_when_records_are_reachable(tiny_run, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ENSEMBLER_PTBXL_DIR", raising=False)
    run = _detached_run(tiny_run, tmp_path, reachable=True)
    res = export_bundle(run, tmp_path / "b", onnx=False, zip=False,
                  latency_repeats=1)
    raw = res.manifest["parity"]["raw_records"]
    assert raw["ran"] is True and raw["n_records"] == len(tiny_run.test_rows)
    assert raw["max_abs_diff"] <= 1e-5
    card = (tmp_path / "b" / "MODEL_CARD.md").read_text()
    assert f"from the raw WFDB files of {raw['n_records']} test records" in card
    skipped = export_bundle(run, tmp_path / "c", parity=False, onnx=False, zip=False,
                  latency_repeats=1)
    assert skipped.manifest["parity"]["raw_records"] == {
        "ran": False, "reason": "skipped on request (--no-parity)"}
