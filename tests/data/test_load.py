from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ensembler.config import RunConfig, config_from_dict
from ensembler.data import load_cohort
from ensembler.data.cohort import STANDARD_LEADS
from ensembler.data.wfdb_io import write_record
from ensembler.errors import BadRecordError, ConfigError

from .helpers import manifest_cfg, sine_record, tiny_synthetic_cfg, write_manifest_folder


def test_synthetic_cohort_loads_and_cache_is_reused(tmp_path: Path) -> None:
    cfg = tiny_synthetic_cfg()
    c1 = load_cohort(cfg, tmp_path, progress=False)
    assert c1.signals.shape[1:] == (12, 1000) and c1.signals.dtype == np.float32
    assert isinstance(c1.signals, np.memmap) and not c1.signals.flags.writeable
    assert c1.oracle_risk is not None and c1.oracle_risk.shape == (len(c1), 1)
    assert c1.predefined_fold is not None and (c1.predefined_fold == -1).any()
    assert c1.tabular_names == ["age", "sex", "pacemaker"]
    assert list(c1.subgroups.columns) == ["sex", "age_band", "paced"]
    # each record carries its source WFDB path (header next to it)
    assert c1.source_path is not None and len(c1.source_path) == len(c1)
    assert all(Path(p + ".hea").is_file() for p in c1.source_path[:5])
    info = json.loads((tmp_path / c1.fingerprint / "info.json").read_text())
    assert info["oracle_auc_dev"][0] is not None and info["oracle_auc_test"] is not None
    sig_file = tmp_path / c1.fingerprint / "signals.npy"
    mtime = sig_file.stat().st_mtime_ns
    c2 = load_cohort(cfg, tmp_path, progress=False)
    assert c2.fingerprint == c1.fingerprint and sig_file.stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(c2.signals, c1.signals)
    assert len(list((tmp_path / "synthetic").iterdir())) == 1
    c3 = load_cohort(tiny_synthetic_cfg().model_copy(update={"seed": 4}), tmp_path,
                     progress=False)
    assert c3.fingerprint != c1.fingerprint


def test_manifest_source_resamples_derives_and_splits_test(tmp_path: Path) -> None:
    eight = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    csv = write_manifest_folder(tmp_path / "src", n_records=6, fs=500.0, leads=eight)
    cfg = manifest_cfg(csv, source_fs=500.0, dtype="float16")
    c = load_cohort(cfg, tmp_path / "cache", progress=False)
    assert c.signals.shape == (6, 12, 1000) and c.signals.dtype == np.float16
    np.testing.assert_allclose(c.signals[:, 2], c.signals[:, 1] - c.signals[:, 0], atol=5e-3)
    assert c.predefined_fold is not None and list(c.predefined_fold[-2:]) == [-1, -1]
    other = load_cohort(manifest_cfg(csv, source_fs=500.0), tmp_path / "cache", progress=False)
    assert other.fingerprint != c.fingerprint
    np.testing.assert_allclose(other.signals, c.signals, atol=2.5e-3)  # float16 tolerance


def _break(csv: Path) -> None:
    folder = csv.parent
    with open(folder / "r001.dat", "r+b") as fh:
        fh.truncate(100)
    (folder / "r003.hea").write_text("nonsense\n")


def test_bad_records_error_names_record_and_leaves_no_cache(tmp_path: Path) -> None:
    csv = write_manifest_folder(tmp_path / "src", n_records=6)
    _break(csv)
    with pytest.raises(BadRecordError, match=r"r001.*truncated"):
        load_cohort(manifest_cfg(csv), tmp_path / "cache", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []  # no half-written cache


def test_bad_records_skipped_and_reported(tmp_path: Path) -> None:
    csv = write_manifest_folder(tmp_path / "src", n_records=6)
    _break(csv)
    c = load_cohort(manifest_cfg(csv, on_bad_record="skip"), tmp_path / "cache",
                    progress=False)
    assert list(c.record_id) == ["r000", "r002", "r004", "r005"]
    report = (tmp_path / "cache" / c.fingerprint / "skipped.csv").read_text()
    assert "r001" in report and "truncated" in report and "unreadable header" in report


def test_wrong_sampling_rate_is_refused(tmp_path: Path) -> None:
    csv = write_manifest_folder(tmp_path / "src", n_records=4, fs=250.0)
    with pytest.raises(BadRecordError, match="250 Hz differs from the configured 100"):
        load_cohort(manifest_cfg(csv, source_fs=100.0), tmp_path / "c", progress=False)


def test_ptbxl_without_path_is_a_config_error(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENSEMBLER_PTBXL_DIR", raising=False)
    cfg = config_from_dict({"data": {"source": "ptbxl"}})
    with pytest.raises(ConfigError, match="ENSEMBLER_PTBXL_DIR"):
        load_cohort(cfg, tmp_path)
    cfg2 = RunConfig.model_validate({"data": {"source": "ptbxl", "ptbxl": {"path": "/x"}}})
    with pytest.raises(ConfigError, match="not a PTB-XL folder"):
        load_cohort(cfg2, tmp_path)


def test_cache_key_survives_a_copy_and_changes_when_samples_do(tmp_path: Path) -> None:
    """The same records copied elsewhere (new paths, new mtimes) keep the cache key, so
    the cache and the models keyed on it are reused; rewritten samples change it."""
    csv = write_manifest_folder(tmp_path / "a", n_records=6)
    first = load_cohort(manifest_cfg(csv), tmp_path / "cache", progress=False)
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # copytree keeps mtimes: drop them
    for f in (tmp_path / "b").iterdir():
        f.touch()
    copied = load_cohort(manifest_cfg(tmp_path / "b" / "manifest.csv"), tmp_path / "cache",
                         progress=False)
    assert copied.fingerprint == first.fingerprint
    assert len(list((tmp_path / "cache").iterdir())) == 1  # the copy reused the cache

    # same size, different samples: the header's checksums change, so the key does
    sig = sine_record(1000, 12, seed=99)
    write_record(tmp_path / "b" / "r000", sig, STANDARD_LEADS, 100.0)
    size = (tmp_path / "a" / "r000.dat").stat().st_size
    assert (tmp_path / "b" / "r000.dat").stat().st_size == size
    rewritten = load_cohort(manifest_cfg(tmp_path / "b" / "manifest.csv"), tmp_path / "cache",
                            progress=False)
    assert rewritten.fingerprint != first.fingerprint
