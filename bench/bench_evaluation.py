"""Timing of the evaluation metrics: vectorised patient bootstrap and DeLong.

Run: ``.venv/bin/python bench/bench_evaluation.py [--quick]``; prints a table and writes
``bench/results/evaluation.json``. The headline is the naive sklearn bootstrap loop's
time over the vectorised patient bootstrap's (same data, same B, interleaved); the
DeLong fast/naive pair is interleaved too; the other cases are context. Medians over
repeats, CPU time next to wall time, load sampled during the run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import numpy as np
from _timing import LoadMonitor, interleaved, make_result, ratio, timed, write_result
from sklearn.metrics import roc_auc_score

from ensembler.config import ReportConfig
from ensembler.evaluation import (
    cluster_bootstrap,
    delong_test,
    delong_test_naive,
    paired_bootstrap_delta,
)
from ensembler.report import ComparisonInput, LeaderboardEntry, build_report


def _short(t: dict[str, Any]) -> dict[str, Any]:
    return {k: t[k] for k in ("wall_s", "cpu_s", "wall_s_min", "repeats")}


def _data(n: int, c: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = (rng.random((n, c)) < 0.3).astype(np.uint8)
    pa = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(size=(n, c)))))
    pb = 1 / (1 + np.exp(-(1.5 * y - 0.75 + rng.normal(size=(n, c)))))
    groups = rng.integers(0, int(n / 1.3), size=n)  # ~1.3 ECGs per patient, like PTB-XL
    return y, pa, pb, groups


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no N=200,000 case")
    args = ap.parse_args()
    scale = 0.5 if args.quick else 1.0
    results: dict[str, Any] = {"cases": []}

    def show(name: str, r: dict[str, Any]) -> None:
        print(f"{name:<48} wall {r['wall_s'] * 1e3:9.1f} ms   cpu {r['cpu_s'] * 1e3:9.1f} ms")

    def case(name: str, fn: Callable[[], Any], repeats: int, **info: Any) -> None:
        r = {"name": name, **info, **_short(timed(fn, max(2, round(repeats * scale))))}
        results["cases"].append(r)
        show(name, r)

    mon = LoadMonitor().start()

    # the headline pair, interleaved: vectorised patient bootstrap vs the naive loop
    y, pa, _, g = _data(2000, 1)
    uniq, codes = np.unique(g, return_inverse=True)
    rows_of = [np.flatnonzero(codes == k) for k in range(uniq.size)]
    draws = np.random.default_rng(0).integers(0, uniq.size, size=(1000, uniq.size))

    def naive() -> None:
        for b in range(1000):
            idx = np.concatenate([rows_of[k] for k in draws[b]])
            roc_auc_score(y[idx, 0], pa[idx, 0])

    pair = interleaved({"cluster_bootstrap": lambda: cluster_bootstrap(y, pa, g, n_boot=1000),
                        "naive_loop": naive}, 3 if args.quick else 5)
    for name, r in pair.items():
        show(f"{name} B=1000 N=2000 C=1 (interleaved)", r)
    y, pa, pb, _ = _data(2000, 1)
    delong = interleaved({"delong_fast": lambda: delong_test(y[:, 0], pa[:, 0], pb[:, 0]),
                          "delong_naive": lambda: delong_test_naive(y[:, 0], pa[:, 0],
                                                                    pb[:, 0])},
                         3 if args.quick else 5)
    for name, r in delong.items():
        show(f"{name} N=2000 (interleaved)", r)
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
    for n in (20000,) if args.quick else (20000, 200000):
        y, pa, pb, _ = _data(n, 1)
        case(
            f"delong_test fast N={n}",
            lambda y=y, pa=pa, pb=pb: delong_test(y[:, 0], pa[:, 0], pb[:, 0]),
            7,
            n=n,
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

    mon.stop()
    result = make_result(
        "evaluation", quick=args.quick, command=" ".join(["python", *sys.argv]),
        headline={"label": "naive sklearn bootstrap loop / vectorised patient bootstrap "
                           "(B=1000, N=2000)",
                  "ratio": ratio(pair, "naive_loop", "cluster_bootstrap"), "better": "higher"},
        medians={**pair, **delong}, load=mon.summary(1),
        details={"delong_naive_over_fast": ratio(delong, "delong_naive", "delong_fast"),
                 "cases": results["cases"], "numpy": np.__version__})
    write_result(result)


if __name__ == "__main__":
    main()
