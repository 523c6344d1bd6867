from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from ensembler.data.cohort import STANDARD_LEADS
from ensembler.data.wfdb_io import read_record, write_record
from ensembler.errors import BadRecordError

from .helpers import sine_record


def test_write_record_round_trips_through_wfdb(tmp_path: Path) -> None:
    sig = sine_record()
    write_record(tmp_path / "a", sig, STANDARD_LEADS, 100.0)
    ref, _fields = wfdb.rdsamp(str(tmp_path / "a"))
    np.testing.assert_allclose(ref, sig, atol=0.0005 + 1e-9)
    out, names, fs = read_record(tmp_path / "a", expected_fs=100.0)
    np.testing.assert_array_equal(out, ref)
    assert names == list(STANDARD_LEADS) and fs == 100.0


def test_microvolt_units_are_converted(tmp_path: Path) -> None:
    sig = sine_record(n_leads=2)
    wfdb.wrsamp("u", fs=100, units=["uV", "uV"], sig_name=["I", "II"], p_signal=sig * 1000,
                fmt=["16", "16"], write_dir=str(tmp_path))
    out, _, _ = read_record(tmp_path / "u")
    np.testing.assert_allclose(out, sig, atol=1e-3)


def _rec(tmp_path: Path) -> Path:
    write_record(tmp_path / "r", sine_record(), STANDARD_LEADS, 100.0)
    return tmp_path / "r"


def test_missing_header_and_dat(tmp_path: Path) -> None:
    with pytest.raises(BadRecordError, match="header file"):
        read_record(tmp_path / "nothing")
    rec = _rec(tmp_path)
    rec.with_suffix(".dat").unlink()
    with pytest.raises(BadRecordError, match=r"r\.dat is missing") as err:
        read_record(rec)
    assert err.value.record.endswith("r")


def test_truncated_dat(tmp_path: Path) -> None:
    rec = _rec(tmp_path)
    with open(rec.with_suffix(".dat"), "r+b") as fh:
        fh.truncate(5000)
    with pytest.raises(BadRecordError, match="truncated"):
        read_record(rec)


def test_unreadable_header(tmp_path: Path) -> None:
    rec = _rec(tmp_path)
    rec.with_suffix(".hea").write_text("r twelve leads at fs\n garbage\n")
    with pytest.raises(BadRecordError, match="unreadable header"):
        read_record(rec)


def test_sampling_rate_mismatch(tmp_path: Path) -> None:
    rec = _rec(tmp_path)
    with pytest.raises(BadRecordError, match="differs from the configured 500"):
        read_record(rec, expected_fs=500.0)


def test_invalid_samples_read_as_nan(tmp_path: Path) -> None:
    rec = _rec(tmp_path)
    raw = np.fromfile(rec.with_suffix(".dat"), "<i2")
    raw[5 * 12 + 2] = -32768  # WFDB's invalid-sample code
    raw.tofile(rec.with_suffix(".dat"))
    out, _, _ = read_record(rec)
    assert np.isnan(out[5, 2])


def test_fast_reader_equals_rdsamp_on_foreign_headers(tmp_path: Path) -> None:
    sig = sine_record(n_leads=3)
    wfdb.wrsamp("g", fs=250, units=["mV"] * 3, sig_name=["I", "AVR", "v2"], p_signal=sig,
                fmt=["16"] * 3, write_dir=str(tmp_path))  # non-trivial gains and baselines
    ref, _ = wfdb.rdsamp(str(tmp_path / "g"))
    out, names, fs = read_record(tmp_path / "g")
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    assert names == ["I", "AVR", "v2"] and fs == 250.0
    wfdb.wrsamp("h", fs=250, units=["mV"] * 3, sig_name=["I", "II", "V1"], p_signal=sig,
                fmt=["212"] * 3, write_dir=str(tmp_path))  # other formats go through rdsamp
    ref, _ = wfdb.rdsamp(str(tmp_path / "h"))
    np.testing.assert_allclose(read_record(tmp_path / "h")[0], ref)
