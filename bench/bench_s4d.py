"""Training throughput of ``s4d`` beside ``resnet1d_wang`` and ``inception1d``, interleaved.

One process, one thread setting; each repeat times one training step (forward + backward +
AdamW step at batch 64) of every model in turn (A, B, C, A, B, C, ...), so a change in the
machine's load hits all models alike. Reports medians of wall and process-CPU time, ECG/s,
the ratios to ``resnet1d_wang``, the 1-minute load average at each step, and marks the run
``contended`` when the 1-minute load exceeded 1.0 (then read the ratios, not the absolute
figures). Writes ``bench/results/s4d.json``.

    .venv/bin/python bench/bench_s4d.py [--threads 2] [--repeats 5] [--lengths 250,1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from base_models import create_model, get_model_info

MODELS = ["resnet1d_wang", "inception1d", "s4d"]
REF = "resnet1d_wang"


def train_step(name: str, length: int, batch: int) -> Callable[[], None]:
    """A closure running one AdamW training step of model ``name`` on random data."""
    torch.manual_seed(0)
    model = create_model(name, 12, 5).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 12, length)
    y = (torch.rand(batch, 5) < 0.3).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return step


def interleaved(steps: dict[str, Callable[[], None]], repeats: int) -> dict[str, Any]:
    """Time every step once per round, ``repeats`` rounds after one untimed warm-up round."""
    for step in steps.values():
        step()
    walls: dict[str, list[float]] = {n: [] for n in steps}
    cpus: dict[str, list[float]] = {n: [] for n in steps}
    loads: list[float] = []
    for _ in range(repeats):
        for name, step in steps.items():
            loads.append(os.getloadavg()[0])
            w0, c0 = time.perf_counter(), time.process_time()
            step()
            walls[name].append(time.perf_counter() - w0)
            cpus[name].append(time.process_time() - c0)
    return {"wall": walls, "cpu": cpus, "load1": loads}


def summarise(raw: dict[str, Any], batch: int) -> dict[str, Any]:
    """Medians, ECG/s and ratios to :data:`REF` (> 1: faster than the reference)."""
    out: dict[str, Any] = {}
    for name, walls in raw["wall"].items():
        wall, cpu = statistics.median(walls), statistics.median(raw["cpu"][name])
        out[name] = {"wall_s_median": wall, "cpu_s_median": cpu,
                     "train_ecg_per_s": batch / wall, "train_ecg_per_cpu_s": batch / cpu,
                     "wall_s_all": walls}  # fmt: skip
    for entry in out.values():
        entry["ratio_vs_" + REF] = {
            "wall": out[REF]["wall_s_median"] / entry["wall_s_median"],
            "cpu": out[REF]["cpu_s_median"] / entry["cpu_s_median"],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lengths", default="250,1000")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "s4d.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "threads": args.threads, "load_before": os.getloadavg()},
        "settings": {"batch": args.batch, "repeats": args.repeats, "fs_hz": 100,
                     "order": "interleaved A,B,C per round; medians over rounds",
                     "models": {m: get_model_info(m)["param_count"] for m in MODELS}},
        "lengths": {},
    }  # fmt: skip
    max_load = 0.0
    for length in (int(v) for v in args.lengths.split(",")):
        raw = interleaved({m: train_step(m, length, args.batch) for m in MODELS}, args.repeats)
        max_load = max(max_load, *raw["load1"])
        summary = summarise(raw, args.batch)
        results["lengths"][str(length)] = {"models": summary, "load1_at_each_step": raw["load1"]}
        for name, e in summary.items():
            print(f"{length:5d} {name:14s} {e['train_ecg_per_s']:7.1f} ECG/s  "
                  f"(per CPU-s {e['train_ecg_per_cpu_s']:7.1f})  ratio vs {REF}: "
                  f"wall {e['ratio_vs_' + REF]['wall']:.2f} cpu {e['ratio_vs_' + REF]['cpu']:.2f}",
                  flush=True)  # fmt: skip
    results["machine"]["load_after"] = os.getloadavg()
    results["machine"]["max_load1"] = max_load
    results["contended"] = max_load > 1.0
    if results["contended"]:
        print(f"CONTENDED: 1-min load reached {max_load:.1f}; compare ratios, not absolute ECG/s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
