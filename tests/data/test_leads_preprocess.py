from __future__ import annotations

import numpy as np
import pytest

from ensembler.config import PreprocessingConfig
from ensembler.data.leads import canonical_lead, map_leads, resolve_leads
from ensembler.data.preprocess import preprocess_record
from ensembler.errors import BadRecordError


def test_lead_names_are_case_insensitive_and_reordered() -> None:
    assert canonical_lead("AVR") == "aVR" and canonical_lead(" v1 ") == "V1"
    assert canonical_lead("X") is None
    x = np.arange(6, dtype=float).reshape(2, 3)  # columns V1, AVR, I
    out = map_leads(x, ["V1", "AVR", "I"], ["I", "aVR", "V1"])
    np.testing.assert_array_equal(out, x[:, [2, 1, 0]])


def test_limb_leads_derived_from_eight_leads() -> None:
    sig = np.array([[1.0, 2.0, 0, 0, 0, 0, 0, 0]])  # I=1, II=2, V1..V6=0
    names = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    out = map_leads(sig, names, resolve_leads(None))
    np.testing.assert_allclose(out[0, :6], [1.0, 2.0, 1.0, -1.5, 0.0, 1.5])


def test_missing_underivable_lead_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot provide"):
        map_leads(np.zeros((3, 2)), ["I", "V1"], ["I", "III"])
    with pytest.raises(ValueError, match="unknown lead"):
        resolve_leads(["I", "Vx"])


def test_resample_crop_pad_and_reduced_leads() -> None:
    fs_in, t = 500.0, np.arange(6000) / 500.0  # 12 s at 500 Hz
    sig = np.stack([np.sin(2 * np.pi * 2 * t) + k for k in range(12)], 1)
    spec = PreprocessingConfig(fs=100, duration_s=10, leads=["V1", "ii"])
    out = preprocess_record(sig, [n.upper() for n in resolve_leads(None)], fs_in, spec)
    assert out.shape == (2, 1000) and out.dtype == np.float32
    expected = np.sin(2 * np.pi * 2 * np.arange(1000) / 100.0)
    np.testing.assert_allclose(out[1] - 1, expected, atol=0.03)  # II = sine + 1
    np.testing.assert_allclose(out[0].mean(), 6, atol=0.05)  # V1 = sine + 6
    short = preprocess_record(sig[:2500], resolve_leads(None), fs_in, PreprocessingConfig())
    assert short.shape == (12, 1000)
    assert np.all(short[:, 500:] == 0) and np.any(short[:, 400:500] != 0)


def test_bandpass_removes_baseline_offset() -> None:
    t = np.arange(1000) / 100.0
    sig = np.repeat((3.0 + np.sin(2 * np.pi * 5 * t))[:, None], 12, 1)
    out = preprocess_record(sig, resolve_leads(None), 100.0,
                            PreprocessingConfig(bandpass=(0.5, 40.0)))
    assert abs(out[0, 100:-100].mean()) < 0.05
    assert 0.9 < out[0, 100:-100].std() * np.sqrt(2) < 1.1


@pytest.mark.parametrize(("bad", "match"), [("nan", "non-finite"), ("flat", "flat line")])
def test_nan_and_flat_records_are_named(bad: str, match: str) -> None:
    sig = np.random.default_rng(0).standard_normal((1000, 12))
    if bad == "nan":
        sig[10, 3] = np.nan
    else:
        sig[:, 7] = 0.2
    with pytest.raises(BadRecordError, match=match) as err:
        preprocess_record(sig, resolve_leads(None), 100.0, PreprocessingConfig(), record="r9")
    assert err.value.record == "r9"
