"""The benchmark harness (bench/_timing.py) and bench/gpu_smoke.py's CPU dry path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from toydata import make_cohort

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import _timing  # noqa: E402
import gpu_smoke  # noqa: E402


def test_interleaved_runs_cases_in_turn() -> None:
    order: list[str] = []
    med = _timing.interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                              repeats=3, warmup=1)
    assert order == ["a", "b"] * 4
    assert med["a"]["repeats"] == 3 and len(med["b"]["wall_s_all"]) == 3
    assert med["a"]["cpu_s"] >= 0


def _load(before: float, during: float, own: int, other: float | None) -> dict:
    return {"before": [before, 0.0, 0.0], "during_max": during, "own_threads": own,
            "other_busy_cores": other, "threshold": 1.0}


def test_contended_rule() -> None:
    assert not _timing.is_contended(_load(0.3, 2.4, 2, 0.1))  # its own 2 threads only
    assert _timing.is_contended(_load(1.2, 0.5, 1, 0.0))  # busy before
    assert _timing.is_contended(_load(0.2, 3.5, 2, 0.0))  # others joined during
    assert _timing.is_contended(_load(0.2, 1.0, 1, 1.6))  # others seen in /proc/stat


def test_result_record_and_monitor(tmp_path: Path) -> None:
    with _timing.monitor_load(interval=0.01) as mon:
        med = _timing.interleaved({"x": lambda: sum(range(10_000)),
                                   "y": lambda: sum(range(20_000))}, 3)
    res = _timing.make_result("t", headline={"label": "y/x", "ratio": _timing.ratio(med, "y", "x"),
                                             "better": "lower"},
                              medians=med, load=mon.summary(1), quick=True, command="c")
    out = _timing.write_result(res, tmp_path / "t.json")
    back = json.loads(out.read_text())
    for key in ("name", "headline", "medians", "load", "contended", "machine",
                "torch_threads", "commit", "timestamp"):
        assert key in back, key
    assert back["load"]["cores"] >= 1 and isinstance(back["contended"], bool)
    with pytest.raises(ValueError, match="better"):
        _timing.make_result("t", headline={"label": "l", "ratio": 1.0}, medians={},
                            load=mon.summary(1), quick=True, command="c")


def test_make_slice_is_patient_grouped_and_small(tmp_path: Path) -> None:
    cohort = make_cohort(n_patients=40, samples=1000)
    arrays = gpu_smoke.make_slice(cohort, n_records=30)
    assert len(arrays["labels"]) <= 30
    ev, pid = arrays["is_eval"], arrays["patient_id"]
    assert ev.any() and (~ev).any()
    assert not set(pid[ev]) & set(pid[~ev])
    gpu_smoke.write_slice(arrays, tmp_path / "s.npz")
    back = np.load(tmp_path / "s.npz", allow_pickle=False)
    np.testing.assert_array_equal(back["signals"], arrays["signals"])


@pytest.mark.slow
def test_gpu_smoke_dry_run_on_cpu(tmp_path: Path) -> None:
    """The whole script on CPU: 2 batches of 4 records per --profile full member."""
    arrays = gpu_smoke.make_slice(make_cohort(n_patients=30, samples=1000), n_records=40)
    gpu_smoke.write_slice(arrays, tmp_path / "s.npz")
    out = tmp_path / "smoke.json"
    subprocess.run([sys.executable, str(BENCH / "gpu_smoke.py"), "run", "--slice",
                    str(tmp_path / "s.npz"), "--device", "cpu", "--dry", "--out", str(out)],
                   check=True, capture_output=True, text=True)
    res = json.loads(out.read_text())
    members = res["details"]["members"]
    assert set(members) == {"resnet1d_wang", "xresnet1d101", "inception1d", "cnn_lstm",
                            "vit1d", "ts_cnn"}
    for m in members.values():
        assert m["train_ecg_per_s"] > 0
        assert m["max_abs_diff_cpu_vs_device_fp32"] < 1e-5  # the bundle's CPU path agrees
        assert m["cpu_2threads_ecg_per_s"] > 0 and m["device_over_cpu_2threads"] > 0
    assert res["details"]["device"] == "cpu"
