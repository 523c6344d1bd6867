"""The clinical feature set against ground truth fixed from the ECG generator's parameters.

Ground truth (from ``ensembler.data.synth.ecg_model.render``'s wave table, before any
measurement): every wave is a Gaussian (centre c, SD s, seconds from R); a wave's onset
and end are c -+ 2 s (where a tangent at the steepest point meets the baseline). QRS
onset = Q centre - 2 SD = -0.030 - 0.020 s; QRS end = S centre + 2 SD = 0.035 + 0.028 s;
T end = (qt - 0.10) + 2 x 0.055 s with qt = 0.40 sqrt(RR) qt_factor; P onset = -0.160 -
2 x 0.022 s. Tolerances: HR 3 bpm; QRS 20 ms; QT 30 ms; PR 20 ms; QRS axis 15 degrees
(the axis parameter is the R wave's direction; Q and S pull the net QRS vector a little).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from ensembler.data.cohort import STANDARD_LEADS
from ensembler.data.synth.ecg_model import ECGParams, render
from ensembler.features import create_feature_set

QRS_ON, QRS_OFF, P_ON = -0.030 - 0.020, 0.035 + 0.028, -0.160 - 0.044


def truth(p: ECGParams) -> dict[str, float]:
    rr = 60.0 / p.heart_rate
    t_end = 0.40 * np.sqrt(rr) * p.qt_factor - 0.10 + 2 * 0.055
    return {"heart_rate_bpm": p.heart_rate, "qrs_ms": 1000 * (QRS_OFF - QRS_ON),
            "qt_ms": 1000 * (t_end - QRS_ON), "pr_ms": 1000 * (QRS_ON - P_ON),
            "qrs_axis_deg": p.axis_deg}


TOLERANCE = {"heart_rate_bpm": 3.0, "qrs_ms": 20.0, "qt_ms": 30.0, "pr_ms": 20.0,
             "qrs_axis_deg": 15.0}
CASES = [ECGParams(heart_rate=hr, qt_factor=qtf, axis_deg=axis)
         for hr, qtf, axis in [(50, 1.0, 60), (60, 1.1, 0), (75, 0.9, 30), (90, 1.0, 80),
                               (100, 1.05, -20)]]


def _row(sig: np.ndarray, fs: float) -> dict[str, float]:
    fset = create_feature_set("ecg_clinical")
    values = fset.compute(sig, fs, STANDARD_LEADS)
    return dict(zip(fset.columns(STANDARD_LEADS), values.tolist(), strict=True))


@pytest.mark.parametrize("fs", [100.0, 500.0])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_intervals_rate_and_axis_match_generator(fs: float, case: int) -> None:
    p = CASES[case]
    sig = render(p, fs, 10.0, np.random.default_rng(case)).T
    row = _row(sig, fs)
    for name, expected in truth(p).items():
        assert abs(row[name] - expected) <= TOLERANCE[name], (name, row[name], expected)
    assert row["sqi"] > 0.9 and row["beat_count"] >= 8


def test_qt_tracks_the_planted_qt_factor() -> None:
    qts = [_row(render(ECGParams(heart_rate=60, qt_factor=f), 100.0, 10.0,
                       np.random.default_rng(0)).T, 100.0)["qt_ms"] for f in (0.85, 1.0, 1.15)]
    assert qts[0] < qts[1] < qts[2]
    assert qts[2] - qts[0] > 80  # planted: 0.40 x 0.30 s = 120 ms


def test_irregular_rhythm_and_missing_p() -> None:
    rng = np.random.default_rng(3)
    regular = _row(render(ECGParams(heart_rate=70), 100.0, 10.0, rng).T, 100.0)
    irregular = _row(render(ECGParams(heart_rate=70, irregular=True), 100.0, 10.0, rng).T, 100.0)
    assert regular["rr_irregularity"] < 0.08 < irregular["rr_irregularity"]
    assert irregular["sdnn_ms"] > 2 * regular["sdnn_ms"]


def test_flat_record_is_nan_except_beat_count() -> None:
    fset = create_feature_set("ecg_clinical")
    values = fset.compute(np.zeros((12, 1000)), 100.0, STANDARD_LEADS)
    row = dict(zip(fset.columns(STANDARD_LEADS), values.tolist(), strict=True))
    assert row.pop("beat_count") == 0.0
    assert np.isnan(list(row.values())).all()


@pytest.mark.parametrize("seed", range(4))
def test_noise_gets_no_rhythm_or_waves(seed: int) -> None:
    noise = np.random.default_rng(seed).normal(0.0, 0.3, (12, 1000))
    row = _row(noise, 100.0)
    gated = ["heart_rate_bpm", "sdnn_ms", "qrs_ms", "qt_ms", "pr_ms", "qrs_axis_deg",
             "II:r_amp_mv", "V2:st60_mv"]
    assert np.isnan([row[c] for c in gated]).all(), {c: row[c] for c in gated}
    assert np.isfinite(row["II:log_power"])  # band powers are measurable on noise


def test_one_flat_lead_keeps_the_others() -> None:
    sig = render(ECGParams(heart_rate=70), 100.0, 10.0, np.random.default_rng(1)).T
    sig[6] = 0.0  # V1 off
    row = _row(sig, 100.0)
    assert np.isnan(row["V1:log_power"]) and np.isfinite(row["II:log_power"])
    assert abs(row["qrs_ms"] - truth(ECGParams())["qrs_ms"]) <= 20


def test_beat_samples_and_columns() -> None:
    fset = create_feature_set("ecg_clinical_beats")
    cols = fset.columns(STANDARD_LEADS)
    assert len(cols) == len(set(cols))
    assert "II:beat_-200ms" in cols and "V6:beat_+400ms" in cols and "I:beat_+000ms" in cols
    sig = render(ECGParams(heart_rate=70), 100.0, 10.0, np.random.default_rng(2)).T
    row = dict(zip(cols, fset.compute(sig, 100.0, STANDARD_LEADS).tolist(), strict=True))
    assert row["II:beat_+000ms"] == max(row[f"II:beat_{t:+04d}ms"] for t in range(-200, 401, 20))
    assert abs(row["II:beat_-200ms"]) < 0.1  # the baseline before P


def test_cost_per_ecg_is_within_budget() -> None:
    fset = create_feature_set("ecg_clinical")
    rng = np.random.default_rng(5)
    sigs = [render(ECGParams(heart_rate=float(rng.uniform(50, 100))), 100.0, 10.0, rng).T
            for _ in range(12)]
    fset.compute(sigs[0], 100.0, STANDARD_LEADS)  # imports neurokit2
    cpu = []
    for sig in sigs:
        t0 = time.process_time()
        fset.compute(sig, 100.0, STANDARD_LEADS)
        cpu.append(time.process_time() - t0)
    assert 1000 * float(np.median(cpu)) < 50.0  # the budget: 50 ms per ECG per core


def test_t_peak_on_the_window_end_is_nan_not_an_error() -> None:
    from ensembler.features.delineate import _t_end_of_lead

    x = np.linspace(0.0, 0.3, 50)  # still rising at the end: no descending limb
    assert np.isnan(_t_end_of_lead(x, peak=49, stop=50, fs=100.0))
    assert np.isnan(_t_end_of_lead(x, peak=48, stop=50, fs=100.0))


def test_every_kind_of_generated_record_computes() -> None:
    """Paced, irregular, fast/slow, noisy: the cohort generator's whole range never raises."""
    from ensembler.config import SyntheticConfig
    from ensembler.data.synth.condition import draw_latents
    from ensembler.data.synth.writer import _params

    cfg = SyntheticConfig(paced_fraction=0.3)
    rng = np.random.default_rng(11)
    lat = draw_latents(cfg, 30, rng)
    fset = create_feature_set("ecg_clinical")
    n_qrs = 0
    for i in range(len(lat.patient_index)):
        p = _params(lat, i, rng)
        values = fset.compute(render(p, 100.0, 10.0, rng).T, 100.0, STANDARD_LEADS)
        n_qrs += int(np.isfinite(values[fset.columns(STANDARD_LEADS).index("qrs_ms")]))
    assert n_qrs >= 0.8 * len(lat.patient_index)
