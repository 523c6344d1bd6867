"""Bundle inference latency on CPU: torch eager vs ONNX Runtime per member, ensemble overhead.

Usage:  python bench/bench_bundle.py [RUN_DIR] [--threads 2] [--repeats 15]

Without RUN_DIR a small synthetic run (10 s at 100 Hz, three architectures, 2 folds
plus refit-full, 1 epoch: latency does not depend on accuracy) is trained first, in a
child process.
Both member modes are exported with ONNX; for each member and batch size (1, 64) the
per-ECG latency of all its networks is timed in torch eager and in ONNX Runtime, and
each ensemble's latency is compared with the sum of its members' (the difference is
the stacking + calibration overhead). Medians over repeats, CPU time next to wall
time, and the machine load (os.getloadavg) are written to bench/results/bundle.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _timing import timed  # noqa: E402

from ensembler.bundle import export_bundle, load_bundle  # noqa: E402
from ensembler.bundle.bundle import Bundle  # noqa: E402
from ensembler.config import RunConfig  # noqa: E402
from ensembler.pipeline.context import RunContext  # noqa: E402
from ensembler.pipeline.stack import run_stacking  # noqa: E402
from ensembler.pipeline.train import run_training  # noqa: E402


def build_run(run_dir: Path) -> Path:
    cfg = RunConfig.model_validate({
        "name": "bench-bundle", "seed": 1, "run_dir": str(run_dir),
        "data": {"source": "synthetic",
                 "synthetic": {"n_patients": 40, "ecgs_per_patient": [1, 2],
                               "n_test_patients": 40}},
        "split": {"n_folds": 2, "test": "predefined", "duplicate_check": "off"},
        "training": {"epochs": 1, "batch_size": 32, "crop_s": 2.5, "n_jobs": 1,
                     "backend": "sequential", "refit_full": True, "device": "cpu"},
        "models": [{"name": "cnn", "arch": "cnn1d"},
                   {"name": "resnet", "arch": "resnet1d_wang"},
                   {"name": "inception", "arch": "inception1d", "fusion": "intermediate"}],
        "stacking": {"trials": 3, "learners": ["logistic"], "nested_cv": False},
    })
    ctx = RunContext.create(cfg, run_dir, progress=False)
    run_training(ctx)
    run_stacking(ctx)
    return run_dir


def timed_ms(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    t = timed(fn, repeats, warmup=1)
    return {"wall_ms": 1000 * t["wall_s_median"], "cpu_ms": 1000 * t["cpu_s_median"]}

def per_ecg(t: dict[str, float], bs: int) -> dict[str, float]:
    return {k: v / bs for k, v in t.items()}


def bench_bundle(torch_b: Bundle, onnx_b: Bundle, x: np.ndarray, t: np.ndarray,
                 repeats: int) -> dict[str, object]:
    out: dict[str, object] = {"n_networks_per_member": torch_b.n_sets, "members": {},
                              "ensemble": {}}
    cols = {m.name: [torch_b.tabular_names.index(n) for n in m.tabular_names]
            for m in torch_b.members}
    for bs in (1, 64):
        xb, tb = x[:bs], t[:bs]
        sum_torch = sum_onnx = 0.0
        for mt, mo in zip(torch_b.members, onnx_b.members, strict=True):
            tab = tb[:, cols[mt.name]] if cols[mt.name] else None
            row = {}
            for name, m, backend in (("torch", mt, "torch"), ("onnx", mo, "onnx")):
                row[name] = per_ecg(timed_ms(lambda m=m, backend=backend, tab=tab, xb=xb: [
                    m.predict(k, xb, tab, backend) for k in range(len(m.models))], repeats), bs)
            row["onnx_speedup"] = row["torch"]["wall_ms"] / row["onnx"]["wall_ms"]
            sum_torch += row["torch"]["wall_ms"]
            sum_onnx += row["onnx"]["wall_ms"]
            out["members"].setdefault(mt.name, {})[f"batch_{bs}"] = row  # type: ignore[union-attr]
        ens = {}
        for name, b, total in (("torch", torch_b, sum_torch), ("onnx", onnx_b, sum_onnx)):
            e = per_ecg(timed_ms(lambda b=b, xb=xb, tb=tb: b.predict_proba(
                xb, tb, missing="as-trained"), repeats), bs)
            ens[name] = {**e, "sum_of_members_ms": total, "overhead_ms": e["wall_ms"] - total}
        out["ensemble"][f"batch_{bs}"] = ens  # type: ignore[index]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", nargs="?", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--build-only", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:
        build_run(Path(args.build_only))
        return
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    t0 = time.perf_counter()
    run_dir = Path(args.run_dir) if args.run_dir else work / "run"
    if not args.run_dir:
        # trained in a child process: torch eager inference in a process that has just
        # trained is many times slower at batch 1 (measured 616 vs 35 ms), which would
        # distort every torch figure below
        subprocess.run([sys.executable, __file__, "--build-only", str(run_dir)], check=True)
    build_s = time.perf_counter() - t0
    result: dict[str, object] = {"threads": args.threads, "repeats": args.repeats,
                                 "load_before": os.getloadavg(), "run_build_s": build_s,
                                 "cpu_count": os.cpu_count(), "torch": torch.__version__}
    for mode in ("fold-average", "refit-full"):
        res = export_bundle(run_dir, work / f"bundle-{mode}", members=mode, onnx=True,
                            latency_repeats=3)
        tb, ob = load_bundle(res.path), load_bundle(res.path, backend="onnx")
        torch.set_num_threads(args.threads)
        rng = np.random.default_rng(0)
        x = rng.normal(0, 0.3, size=(64, len(tb.lead_names), tb.n_samples)).astype(np.float32)
        t = np.tile(np.array([[60.0, 1.0, 0.0]], np.float32), (64, 1))[:, :len(tb.tabular_names)]
        result[mode] = {"parity": res.manifest["parity"],
                        "onnx_max_abs_diff": res.manifest["onnx"]["max_abs_diff_vs_torch"],
                        **bench_bundle(tb, ob, x, t, args.repeats)}
    result["load_after"] = os.getloadavg()
    out = ROOT / "bench" / "results" / "bundle.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    for mode in ("fold-average", "refit-full"):
        r = result[mode]
        assert isinstance(r, dict)
        print(f"== {mode} (networks per member: {r['n_networks_per_member']})")
        for m, rows in r["members"].items():
            for bs, row in rows.items():
                print(f"  {m:10s} {bs:9s} torch {row['torch']['wall_ms']:8.2f} ms "
                      f"(cpu {row['torch']['cpu_ms']:7.2f})  onnx {row['onnx']['wall_ms']:8.2f}"
                      f" ms (cpu {row['onnx']['cpu_ms']:7.2f})  speedup "
                      f"{row['onnx_speedup']:.2f}x")
        for bs, ens in r["ensemble"].items():
            for name, e in ens.items():
                print(f"  ensemble {bs:9s} {name:5s} {e['wall_ms']:8.2f} ms per ECG; sum of "
                      f"members {e['sum_of_members_ms']:8.2f}; overhead {e['overhead_ms']:7.2f}")
    print(f"load {result['load_before']} -> {result['load_after']}; written {out}")


if __name__ == "__main__":
    main()
