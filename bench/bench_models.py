"""Throughput and latency of every base-model family on this CPU.

For each model and input length (100 Hz: 2.5 s = 250 samples, 10 s = 1000 samples):
- training throughput (ECG/s): forward + backward + SGD step at batch 64;
- inference latency (ms per ECG) at batch 1 and batch 64 (eval mode, no grad).
Each figure is the median over ``--repeats`` timed runs after one warm-up, with the
process CPU time next to the wall time and the 1-minute load average before and after.
Writes ``bench/results/models.json``.

    .venv/bin/python bench/bench_models.py [--threads 2] [--repeats 5] [--models a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from _timing import timed
from torch.utils.flop_counter import FlopCounterMode

from base_models import create_model, get_model_info

FAMILIES = [
    "cnn1d", "resnet1d_wang", "xresnet1d18", "inception1d",
    "cnn_lstm", "vit1d", "vit1d_lead", "ts_cnn",
]  # fmt: skip
LENGTHS = {"2.5s": 250, "10s": 1000}


def _timed(fn: Callable[[], None], repeats: int) -> dict[str, float]:
    t = timed(fn, repeats, warmup=1)
    return {"wall_s": t["wall_s_median"], "cpu_s": t["cpu_s_median"]}

def count_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Forward FLOPs for ``x`` (torch's FlopCounterMode: matmul/conv/attention; LSTM/GRU
    cells are not counted, so cnn_lstm/ts_cnn(gru) figures are lower bounds)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return int(counter.get_total_flops())


def bench_model(name: str, length: int, batch: int, repeats: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = create_model(name, 12, 5)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 12, length)
    y = (torch.rand(batch, 5) < 0.3).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def train_step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    model.train()
    train = _timed(train_step, repeats)
    model.eval()
    x1 = x[:1]
    gflops = count_flops(model, x1) / 1e9

    def infer(inp: torch.Tensor) -> Callable[[], None]:
        def run() -> None:
            model(inp)

        return run

    with torch.no_grad():
        inf64 = _timed(infer(x), repeats)
        inf1 = _timed(infer(x1), max(repeats, 10))
    return {
        "gflops_fwd_per_ecg": gflops,
        "train_ecg_per_s": batch / train["wall_s"],
        "train_wall_s": train["wall_s"],
        "train_cpu_s": train["cpu_s"],
        "infer_ms_per_ecg_b64": 1000 * inf64["wall_s"] / batch,
        "infer_cpu_ms_per_ecg_b64": 1000 * inf64["cpu_s"] / batch,
        "infer_ms_b1": 1000 * inf1["wall_s"],
        "infer_cpu_ms_b1": 1000 * inf1["cpu_s"],
    }


def speedups(models: dict[str, dict[str, Any]], ref: str = "vit1d") -> dict[str, Any]:
    """How many times faster than ``ref`` each model is (> 1: faster), by wall and CPU time.

    CPU-time ratios are the robust figure on a shared machine: wall time includes
    waiting for cores held by other processes.
    """
    if ref not in models:
        return {}
    base = models[ref]
    pairs = {
        "train": ("train_wall_s", "train_cpu_s"),
        "infer_b64": ("infer_ms_per_ecg_b64", "infer_cpu_ms_per_ecg_b64"),
        "infer_b1": ("infer_ms_b1", "infer_cpu_ms_b1"),
        "flops": ("gflops_fwd_per_ecg", "gflops_fwd_per_ecg"),
    }
    out: dict[str, Any] = {}
    for name, entry in models.items():
        if name == ref:
            continue
        out[name] = {
            f"{tag}_{what}_{clock}": round(base[tag][key] / entry[tag][key], 2)
            for tag in LENGTHS
            for what, keys in pairs.items()
            for clock, key in zip(("wall", "cpu"), keys, strict=True)
            if what != "flops" or clock == "wall"
        }
    return out


def markdown_table(results: dict[str, Any]) -> str:
    """The README table: FLOPs, training ECG/s and inference ms/ECG (wall | CPU)."""
    lines = [
        "| model | params | GFLOP/ECG 2.5 s / 10 s | train ECG/s 2.5 s | train ECG/s 10 s "
        "| infer ms/ECG b64 2.5 s | infer ms b1 2.5 s | infer ms b1 10 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    batch = results["settings"]["batch"]
    for name, e in results["models"].items():
        a, b = e["2.5s"], e["10s"]
        lines.append(
            f"| `{name}` | {e['params'] / 1e6:.2f} M "
            f"| {a['gflops_fwd_per_ecg']:.3f} / {b['gflops_fwd_per_ecg']:.3f} "
            f"| {a['train_ecg_per_s']:.1f} ({batch / a['train_cpu_s']:.1f} per CPU-s) "
            f"| {b['train_ecg_per_s']:.1f} ({batch / b['train_cpu_s']:.1f} per CPU-s) "
            f"| {a['infer_ms_per_ecg_b64']:.2f} (CPU {a['infer_cpu_ms_per_ecg_b64']:.2f}) "
            f"| {a['infer_ms_b1']:.1f} (CPU {a['infer_cpu_ms_b1']:.1f}) "
            f"| {b['infer_ms_b1']:.1f} (CPU {b['infer_cpu_ms_b1']:.1f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--table", action="store_true", help="print the table of --out, run nothing"
    )
    parser.add_argument("--models", default=",".join(FAMILIES))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "models.json"))
    args = parser.parse_args()
    if args.table:
        print(markdown_table(json.loads(Path(args.out).read_text())))
        return
    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "threads": args.threads,
            "load_before": os.getloadavg(),
        },
        "settings": {"batch": args.batch, "repeats": args.repeats, "fs_hz": 100},
        "models": {},
    }
    models: dict[str, dict[str, Any]] = {}
    for name in args.models.split(","):
        info = get_model_info(name)
        entry: dict[str, Any] = {"params": info["param_count"], "family": info["family"]}
        for tag, length in LENGTHS.items():
            r = bench_model(name, length, args.batch, args.repeats)
            entry[tag] = r
            print(
                f"{name:14s} {tag:5s} {r['gflops_fwd_per_ecg']:6.3f} GFLOP  "
                f"train {r['train_ecg_per_s']:8.1f} ECG/s "
                f"(cpu/wall {r['train_cpu_s'] / r['train_wall_s']:.2f})  "
                f"infer b64 {r['infer_ms_per_ecg_b64']:7.3f} ms/ECG  b1 {r['infer_ms_b1']:7.2f} ms"
                f"  load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        models[name] = entry
    results["models"] = models
    ratios = speedups(models)
    results["speedup_vs_vit1d"] = ratios  # > 1: faster (fewer FLOPs) than vit1d
    results["speedup_vs_vit1d_lead"] = speedups(models, ref="vit1d_lead")
    results["machine"]["load_after"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(ratios, indent=2))
    print(markdown_table(results))


if __name__ == "__main__":
    main()
