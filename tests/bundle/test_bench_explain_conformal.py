"""bench/bench_explain_conformal.py on the tiny run and its bundle (quick mode)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_explain_conformal as bec  # noqa: E402


def test_binomial_tolerance_and_verdict() -> None:
    lo, hi = bec._binomial(1000, 0.1)
    assert 0.88 <= lo < 0.9 < hi <= 0.92
    assert bec._verdict(0.9, lo, hi) == "inside"
    assert bec._verdict(0.95, lo, hi) == "above (conservative)"
    assert bec._verdict(0.85, lo, hi) == "below"


def test_measure_on_a_run_and_its_bundle(tiny_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ensembler.bundle import export_bundle

    bundle = tmp_path / "bundle"
    export_bundle(tiny_run.run_dir, bundle, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1)
    args = argparse.Namespace(run_dir=tiny_run.run_dir, bundle=bundle, cls=None, sample=200,
                              threads=1, ig_ecgs=1, gxi_ecgs=2, repeats=1, quick=True)
    details, medians = bec.measure(args)
    cov = details["coverage"]
    assert len(cov) == 2 * 3  # (stack, best single) x alpha x 1 class
    assert {r["model"] for r in cov} == {"stack", "best_single"}
    assert {r["alpha"] for r in cov} == set(bec.ALPHAS)
    for r in cov:
        assert r["binomial_95"][0] <= r["target"] <= r["binomial_95"][1]
        assert r["verdict"] == bec._verdict(r["coverage"], *r["binomial_95"])
    sel = details["abstention_alpha_0.1"]
    assert 0 <= sel["stack"]["abstention"] <= 1 and 0 <= sel["best_single"]["abstention"] <= 1
    assert details["conformal"]["bundle_quantiles_match"] is True
    assert set(details["per_lead"]["rows"]) == {"stack", "cnn", "fused"}
    assert details["per_lead"]["n_sample"] == 50
    assert set(medians) == {"ig/cnn", "gxi/cnn", "ig/fused", "gxi/fused"}
    assert all(v > 0 for v in details["attribution_seconds_per_ecg"].values())


def test_unknown_class_exits_with_the_names() -> None:
    from types import SimpleNamespace

    with pytest.raises(SystemExit, match="expected one of"):
        bec._class(SimpleNamespace(class_names=["NORM", "MI"]), "XX")
