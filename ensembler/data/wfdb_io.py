"""Reading and writing single WFDB records with errors that name the record.

``read_record`` is the one place a record file is opened: the cache builder and
the bundle's prediction path both use it, so a record reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import wfdb

from ensembler.errors import BadRecordError

#: Bytes per sample of the WFDB storage formats whose size we can check exactly.
_BYTES_PER_SAMPLE = {"8": 1.0, "16": 2.0, "61": 2.0, "80": 1.0, "160": 2.0, "212": 1.5,
                     "24": 3.0, "32": 4.0, "310": 4 / 3, "311": 4 / 3}
#: Scale from a header's physical unit to millivolts.
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3}


def _check_dat_sizes(path: Path, header: wfdb.Record) -> None:
    """Compare each .dat file's size with what the header promises (truncation check)."""
    per_file: dict[str, float] = {}
    for file_name, fmt in zip(header.file_name, header.fmt, strict=True):
        bps = _BYTES_PER_SAMPLE.get(str(fmt))
        if bps is None:  # exotic format: rely on the reader's own checks
            return
        per_file[file_name] = per_file.get(file_name, 0.0) + bps
    for file_name, bytes_per_frame in per_file.items():
        dat = path.parent / file_name
        if not dat.is_file():
            raise BadRecordError(str(path), f"signal file {dat.name} is missing")
        expected = int(np.ceil(bytes_per_frame * header.sig_len))
        size = dat.stat().st_size
        if size < expected:
            raise BadRecordError(
                str(path),
                f"signal file {dat.name} is truncated: {size} bytes, header promises "
                f"{header.sig_len} samples x {header.n_sig} leads = {expected} bytes",
            )


def _read_format16(path: Path, header: wfdb.Record) -> np.ndarray | None:
    """Fast path for the common layout (one .dat, format 16, no byte offset), else None.

    Hand-written because ``wfdb.rdsamp`` parses the header a second time, which is
    half the cost of a PTB-XL read; the result equals ``rdsamp``'s (tested),
    including WFDB's invalid-sample code -32768 -> NaN.
    """
    if (len(set(header.file_name)) != 1 or any(str(f) != "16" for f in header.fmt)
            or any(header.byte_offset or []) or any(s not in (1, None) for s in
                                                    (header.samps_per_frame or []))):
        return None
    raw = np.fromfile(path.parent / header.file_name[0], dtype="<i2",
                      count=header.sig_len * header.n_sig)
    digital = raw.reshape(header.sig_len, header.n_sig).astype(np.float64)
    gain = np.array([g if g else 200.0 for g in header.adc_gain])  # WFDB default gain
    out = (digital - np.asarray(header.baseline, dtype=np.float64)) / gain
    out[raw.reshape(header.sig_len, header.n_sig) == -32768] = np.nan
    return out


def read_record(
    path: str | Path, expected_fs: float | None = None
) -> tuple[np.ndarray, list[str], float]:
    """Read one WFDB record into millivolts.

    Parameters
    ----------
    path : record path without extension (``.../00001_lr``)
    expected_fs : if given, the header's sampling rate must equal it

    Returns
    -------
    signal : ndarray of shape (samples, leads), float64, mV
    lead_names : list of str, as written in the header (any case)
    fs : float, the header's sampling rate in Hz

    Raises
    ------
    BadRecordError
        Missing/unreadable header, missing or truncated .dat, a sampling rate
        other than ``expected_fs``, or a unit that is not a voltage.
    """
    p = Path(path)
    if p.suffix in (".hea", ".dat"):
        p = p.with_suffix("")
    header = _read_header(p, expected_fs)
    name = str(p)
    _check_dat_sizes(p, header)
    signal = _read_format16(p, header)
    if signal is None:
        try:
            signal, _ = wfdb.rdsamp(name)
        except Exception as exc:
            raise BadRecordError(name, f"cannot read signal data: {exc}") from None
    if signal.shape != (header.sig_len, header.n_sig):
        raise BadRecordError(
            name, f"read {signal.shape} samples x leads, header promises "
            f"({header.sig_len}, {header.n_sig}) (truncated .dat?)"
        )
    return signal * _mv_scale(name, header), [str(s) for s in header.sig_name], float(header.fs)


def _read_header(p: Path, expected_fs: float | None) -> wfdb.Record:
    """The record's header: present, readable, non-empty, at ``expected_fs`` when given."""
    name = str(p)
    if not p.with_suffix(".hea").is_file():
        raise BadRecordError(name, "header file (.hea) is missing")
    try:
        header = wfdb.rdheader(name)
    except Exception as exc:  # wfdb raises bare ValueErrors/IndexErrors on bad headers
        raise BadRecordError(name, f"unreadable header: {exc}") from None
    if not header.n_sig or not header.sig_len:
        raise BadRecordError(name, "header declares no signals or zero samples")
    if expected_fs is not None and not np.isclose(float(header.fs), expected_fs):
        raise BadRecordError(
            name, f"sampling rate {header.fs:g} Hz differs from the configured {expected_fs:g} Hz"
        )
    return header


def _mv_scale(name: str, header: wfdb.Record) -> np.ndarray:
    """(leads,) factors that convert each lead's unit to millivolts."""
    scale = np.empty(header.n_sig)
    for i, unit in enumerate(header.units):
        factor = _TO_MV.get(str(unit).strip().lower())
        if factor is None:
            raise BadRecordError(
                name, f"lead {header.sig_name[i]!r} has unit {unit!r}; expected mV, uV or V"
            )
        scale[i] = factor
    return scale


def write_record(
    path: str | Path, signal_mv: np.ndarray, lead_names: Sequence[str], fs: float
) -> None:
    """Write one record as WFDB format 16 at 1 µV resolution (the PTB-XL encoding).

    ``signal_mv`` has shape (samples, leads); values are clipped to +-32.767 mV.
    Written by hand (header text + interleaved little-endian int16) because
    ``wfdb.wrsamp`` spends ~40 ms per record in header bookkeeping; the output
    is read back with ``wfdb.rdsamp`` in the tests.
    """
    p = Path(path)
    digital = np.clip(np.round(np.asarray(signal_mv) * 1000.0), -32767, 32767).astype("<i2")
    n_samp, n_leads = digital.shape
    if len(lead_names) != n_leads:
        raise ValueError(f"{p}: {n_leads} signal columns but {len(lead_names)} lead names")
    checksum = digital.astype(np.int64).sum(axis=0) % 65536
    lines = [f"{p.name} {n_leads} {fs:g} {n_samp}"]
    for j, lead in enumerate(lead_names):
        lines.append(f"{p.name}.dat 16 1000.0(0)/mV 16 0 {digital[0, j]} {checksum[j]} 0 {lead}")
    p.with_suffix(".dat").write_bytes(np.ascontiguousarray(digital).tobytes())
    p.with_suffix(".hea").write_text("\n".join(lines) + "\n")
