"""Bundle inference latency on CPU: torch eager vs ONNX Runtime per member, ensemble overhead.

Usage:  python bench/bench_bundle.py [RUN_DIR] [--quick] [--threads 2] [--repeats 15]

Without RUN_DIR a small synthetic run (10 s at 100 Hz, three architectures, 2 folds
plus refit-full, 1 epoch: latency does not depend on accuracy) is trained first, in a
child process.
Both member modes are exported with ONNX; for each batch size (1, 64) every member
(all its networks) and the whole ensemble (``predict_proba``) are timed interleaved in
torch eager and in ONNX Runtime. The headline is the worst ensemble / sum-of-members
ratio of CPU time (target <= 1.1; the excess is stacking, calibration and glue); wall
ratios, which on a shared machine include waiting for cores, are in ``details``. Medians over
repeats, CPU time next to wall time and the load during the run are written to
bench/results/bundle.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import numpy as np
import torch
from _timing import interleaved, make_result, monitor_load, ratio, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ensembler.bundle import export_bundle, load_bundle  # noqa: E402
from ensembler.bundle.bundle import Bundle  # noqa: E402
from ensembler.config import RunConfig  # noqa: E402
from ensembler.pipeline.context import RunContext  # noqa: E402
from ensembler.pipeline.stack import run_stacking  # noqa: E402
from ensembler.pipeline.train import run_training  # noqa: E402

# --quick: the same families, narrow; the ensemble's own overhead is then a LARGER share
# of its latency, so the quick ratio is the harder test of the <= 1.1 target
LIGHT = {"cnn": {"filters": [32, 32, 32]}, "resnet": {"width": 16},
         "inception": {"filters": 8, "depth": 3}}


def build_run(run_dir: Path, light: bool = False) -> Path:
    params = LIGHT if light else {}
    cfg = RunConfig.model_validate({
        "name": "bench-bundle", "seed": 1, "run_dir": str(run_dir),
        "data": {"source": "synthetic",
                 "synthetic": {"n_patients": 40, "ecgs_per_patient": [1, 2],
                               "n_test_patients": 40}},
        "split": {"n_folds": 2, "test": "predefined", "duplicate_check": "off"},
        "training": {"epochs": 1, "batch_size": 32, "crop_s": 2.5, "n_jobs": 1,
                     "backend": "sequential", "refit_full": True, "device": "cpu"},
        "models": [{"name": "cnn", "arch": "cnn1d", "params": params.get("cnn", {})},
                   {"name": "resnet", "arch": "resnet1d_wang",
                    "params": params.get("resnet", {})},
                   {"name": "inception", "arch": "inception1d", "fusion": "intermediate",
                    "params": params.get("inception", {})}],
        "stacking": {"trials": 3, "learners": ["logistic"], "nested_cv": False},
    })
    ctx = RunContext.create(cfg, run_dir, progress=False)
    run_training(ctx)
    run_stacking(ctx)
    return run_dir


def bench_bundle(torch_b: Bundle, onnx_b: Bundle, x: np.ndarray, t: np.ndarray,
                 repeats: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per batch size: each member (all its networks) and the whole ensemble, per backend,
    interleaved. Returns (details, medians); ratios are ensemble / sum of members."""
    details: dict[str, Any] = {"n_networks_per_member": torch_b.n_sets, "batch": {}}
    medians: dict[str, Any] = {}
    cols = {m.name: [torch_b.tabular_names.index(n) for n in m.tabular_names]
            for m in torch_b.members}
    for bs in (1, 64):
        xb, tb = x[:bs], t[:bs]
        cases: dict[str, Callable[[], object]] = {}
        for backend, bundle in (("torch", torch_b), ("onnx", onnx_b)):
            for m in bundle.members:
                tab = tb[:, cols[m.name]] if cols[m.name] else None
                cases[f"{backend}/{m.name}"] = (
                    lambda m=m, tab=tab, backend=backend, xb=xb: [
                        m.predict(k, xb, tab, backend) for k in range(len(m.models))])
            cases[f"{backend}/ensemble"] = (lambda b=bundle, xb=xb, tb=tb:
                                            b.predict_proba(xb, tb, missing="as-trained"))
        med = interleaved(cases, repeats if bs == 64 else 2 * repeats, warmup=2)
        row: dict[str, Any] = {}
        for backend in ("torch", "onnx"):
            members = [k for k in med if k.startswith(backend + "/") and
                       not k.endswith("/ensemble")]
            total = sum(med[k]["wall_s"] for k in members)
            ens = med[f"{backend}/ensemble"]["wall_s"]
            total_cpu = sum(med[k]["cpu_s"] for k in members)
            row[backend] = {"ensemble_ms_per_ecg": 1000 * ens / bs,
                            "sum_of_members_ms_per_ecg": 1000 * total / bs,
                            "ensemble_over_sum": ens / total,
                            # CPU time: robust to waiting for cores held by other work
                            "ensemble_over_sum_cpu": med[f"{backend}/ensemble"]["cpu_s"]
                            / total_cpu,
                            "members_ms_per_ecg": {k.split("/", 1)[1]: 1000 * med[k]["wall_s"] / bs
                                                   for k in members}}
        row["onnx_speedup_ensemble"] = ratio(med, "torch/ensemble", "onnx/ensemble")
        details["batch"][f"batch_{bs}"] = row
        medians.update({f"b{bs}/{k}": v for k, v in med.items()})
    return details, medians


def measure(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], dict[str, Any],
                                                         dict[str, Any]]:
    """Build (unless given) and export the run, time both bundles; (details, medians, load)."""
    run_dir = Path(args.run_dir) if args.run_dir else work / "run"
    if not args.run_dir:
        # trained in a child process: torch eager inference in a process that has just
        # trained is many times slower at batch 1 (measured 616 vs 35 ms), which would
        # distort every torch figure below
        subprocess.run([sys.executable, __file__, "--build-only", str(run_dir),
                        *(["--light"] if args.quick else [])], check=True)
    details: dict[str, Any] = {"threads": args.threads,
                               "members": LIGHT if args.quick else "defaults"}
    medians: dict[str, Any] = {}
    with monitor_load() as mon:
        for mode in ("fold-average", "refit-full"):
            res = export_bundle(run_dir, work / f"bundle-{mode}", members=mode, onnx=True,
                                latency_repeats=3)
            tb, ob = load_bundle(res.path), load_bundle(res.path, backend="onnx")
            torch.set_num_threads(args.threads)
            rng = np.random.default_rng(0)
            x = rng.normal(0, 0.3, size=(64, len(tb.lead_names), tb.n_samples)).astype(np.float32)
            t = np.tile(np.array([[60.0, 1.0, 0.0]], np.float32),
                        (64, 1))[:, :len(tb.tabular_names)]
            d, m = bench_bundle(tb, ob, x, t, args.repeats)
            details[mode] = {"onnx_max_abs_diff": res.manifest["onnx"]["max_abs_diff_vs_torch"],
                             **d}
            medians.update({f"{mode}/{k}": v for k, v in m.items()})
    return details, medians, mon.summary(args.threads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true",
                    help="narrow members (see LIGHT), 3 repeats (batch 1: 6)")
    ap.add_argument("--build-only", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--light", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:
        build_run(Path(args.build_only), light=args.light)
        return
    if args.quick:
        args.repeats = 3
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        details, medians, load = measure(args, Path(tmp))
    worst = max(details[mode]["batch"][b][backend]["ensemble_over_sum_cpu"]
                for mode in ("fold-average", "refit-full") for b in ("batch_1", "batch_64")
                for backend in ("torch", "onnx"))
    for mode in ("fold-average", "refit-full"):
        for b, row in details[mode]["batch"].items():
            for backend in ("torch", "onnx"):
                r = row[backend]
                print(f"{mode:12s} {b:8s} {backend:5s} ensemble {r['ensemble_ms_per_ecg']:8.2f} "
                      f"ms/ECG, sum of members {r['sum_of_members_ms_per_ecg']:8.2f} -> "
                      f"{r['ensemble_over_sum']:.2f}x wall, "
                      f"{r['ensemble_over_sum_cpu']:.2f}x CPU time")
    result = make_result(
        "bundle", quick=args.quick, command=" ".join(["python", *sys.argv]),
        headline={"label": "ensemble / sum of its members, CPU time (worst of modes, batch "
                           "sizes and backends)", "ratio": worst, "better": "lower",
                  "target": 1.1},
        medians=medians, load=load, details=details)
    write_result(result)


if __name__ == "__main__":
    main()
