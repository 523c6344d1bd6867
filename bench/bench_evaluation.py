"""Timing of the evaluation metrics: vectorised patient bootstrap and DeLong.

Run: ``.venv/bin/python bench/bench_evaluation.py``; prints a table and writes
``bench/results/evaluation.json``. Medians over repeats, CPU time next to wall
time, and the machine load (os.getloadavg) before and after.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _timing import timed
from sklearn.metrics import roc_auc_score

from ensembler.config import ReportConfig
from ensembler.evaluation import (
    cluster_bootstrap,
    delong_test,
    delong_test_naive,
    paired_bootstrap_delta,
)
from ensembler.report import ComparisonInput, LeaderboardEntry, build_report

OUT = Path(__file__).parent / "results" / "evaluation.json"


def _timed(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    t = timed(fn, repeats)
    return {k: t[k] for k in ("wall_s_median", "cpu_s_median", "wall_s_min", "repeats")}

def _data(n: int, c: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = (rng.random((n, c)) < 0.3).astype(np.uint8)
    pa = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(size=(n, c)))))
    pb = 1 / (1 + np.exp(-(1.5 * y - 0.75 + rng.normal(size=(n, c)))))
    groups = rng.integers(0, int(n / 1.3), size=n)  # ~1.3 ECGs per patient, like PTB-XL
    return y, pa, pb, groups


def main() -> None:
    load_before = os.getloadavg()
    results: dict[str, Any] = {"cases": []}

    def case(name: str, fn: Callable[[], Any], repeats: int, **info: Any) -> None:
        r = {"name": name, **info, **_timed(fn, repeats)}
        results["cases"].append(r)
        print(
            f"{name:<48} wall {r['wall_s_median'] * 1e3:9.1f} ms"
            f"   cpu {r['cpu_s_median'] * 1e3:9.1f} ms"
        )

    for c in (1, 5):
        y, pa, pb, g = _data(2000, c)
        case(
            f"cluster_bootstrap B=1000 N=2000 C={c}",
            lambda y=y, pa=pa, g=g: cluster_bootstrap(y, pa, g, n_boot=1000),
            7,
            n=2000,
            n_boot=1000,
            n_classes=c,
        )
        case(
            f"paired_bootstrap_delta B=1000 N=2000 C={c}",
            lambda y=y, pa=pa, pb=pb, g=g: paired_bootstrap_delta(y, pa, pb, g, n_boot=1000),
            5,
            n=2000,
            n_boot=1000,
            n_classes=c,
        )
    # the naive reference: 1000 sklearn roc_auc_score calls on resampled rows
    y, pa, _, g = _data(2000, 1)
    uniq, codes = np.unique(g, return_inverse=True)
    rows_of = [np.flatnonzero(codes == k) for k in range(uniq.size)]
    draws = np.random.default_rng(0).integers(0, uniq.size, size=(1000, uniq.size))

    def naive() -> None:
        for b in range(1000):
            idx = np.concatenate([rows_of[k] for k in draws[b]])
            roc_auc_score(y[idx, 0], pa[idx, 0])

    case("naive loop (sklearn) B=1000 N=2000 C=1", naive, 3, n=2000, n_boot=1000, n_classes=1)
    for n in (2000, 20000, 200000):
        y, pa, pb, _ = _data(n, 1)
        case(
            f"delong_test fast N={n}",
            lambda y=y, pa=pa, pb=pb: delong_test(y[:, 0], pa[:, 0], pb[:, 0]),
            7,
            n=n,
        )
    y, pa, pb, _ = _data(2000, 1)
    case(
        "delong_test_naive O(n^2) N=2000",
        lambda: delong_test_naive(y[:, 0], pa[:, 0], pb[:, 0]),
        3,
        n=2000,
    )

    # the whole report: 12 rows, PTB-XL-sized test set (2,200 ECGs, 5 superclasses)
    y, _, _, g = _data(2200, 5, seed=1)
    yd, _, _, gd = _data(3000, 5, seed=2)
    rng = np.random.default_rng(3)

    def proba(lab: np.ndarray, s: float) -> np.ndarray:
        return 1 / (1 + np.exp(-(s * (lab - 0.5) + rng.normal(size=lab.shape))))

    kinds = ["network"] + ["fold_bag"] * 5 + ["seed_bag", "best_single"] + ["stack"] * 4
    entries = [
        LeaderboardEntry(f"m{i}", k, proba(y, 1.5 + 0.1 * i), proba(yd, 1.5 + 0.1 * i), [f"m{i}"])  # type: ignore[arg-type]
        for i, k in enumerate(kinds)
    ]
    entries[7].name, entries[-1].name = "best_single", "joint_stack"
    inp = ComparisonInput(["A", "B", "C", "D", "E"], y, g, yd, gd + 10**6, entries)
    with tempfile.TemporaryDirectory() as tmp:
        case(
            "build_report 12 rows N=2200 C=5 B=1000",
            lambda: build_report(inp, Path(tmp) / "report", ReportConfig(), seed=0),
            3,
            n=2200,
            n_boot=1000,
            n_classes=5,
            rows=12,
        )

    results["load_before"] = load_before
    results["load_after"] = os.getloadavg()
    results["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "numpy": np.__version__,
    }
    print(f"load average before {load_before}, after {results['load_after']}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, OUT)


if __name__ == "__main__":
    main()
