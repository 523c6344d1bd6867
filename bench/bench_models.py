"""Throughput and latency of every base-model family on this CPU.

For each model and input length (100 Hz: 2.5 s = 250 samples, 10 s = 1000 samples):
- training throughput (ECG/s): forward + backward + SGD step at batch 64;
- inference latency (ms per ECG) at batch 1 and batch 64 (eval mode, no grad).
All families run interleaved in one process (each repeat times every family once, in
turn); each figure is the median over ``--repeats``, with the CPU time next to the wall
time and the load sampled during the run. Writes ``bench/results/models.json``
(headline: cnn1d's training speed-up over vit1d; per-family figures under ``details``).

    .venv/bin/python bench/bench_models.py [--quick] [--threads 2] [--models a,b] [--table]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import torch
from _timing import interleaved, make_result, monitor_load, write_result
from torch.utils.flop_counter import FlopCounterMode

from base_models import create_model, get_model_info

FAMILIES = [
    "cnn1d", "resnet1d_wang", "xresnet1d18", "inception1d",
    "cnn_lstm", "vit1d", "vit1d_lead", "ts_cnn",
]  # fmt: skip
LENGTHS = {"2.5s": 250, "10s": 1000}


def count_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Forward FLOPs for ``x`` (torch's FlopCounterMode: matmul/conv/attention; LSTM/GRU
    cells are not counted, so cnn_lstm/ts_cnn(gru) figures are lower bounds)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return int(counter.get_total_flops())


def model_cases(name: str, length: int, batch: int) -> tuple[dict[str, Callable[[], None]],
                                                              float]:
    """(train step, inference b64, inference b1) callables of one family, and its GFLOP."""
    torch.manual_seed(0)
    model = create_model(name, 12, 5)
    infer_model = create_model(name, 12, 5).eval()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 12, length)
    y = (torch.rand(batch, 5) < 0.3).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()

    def train_step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    def infer(inp: torch.Tensor) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                infer_model(inp)

        return run

    gflops = count_flops(infer_model, x[:1]) / 1e9
    return {"train": train_step, "infer_b64": infer(x), "infer_b1": infer(x[:1])}, gflops


def bench_length(names: list[str], length: int, batch: int, repeats: int
                 ) -> dict[str, dict[str, Any]]:
    """Every family's cases at one input length, interleaved across families."""
    cases: dict[str, Callable[[], None]] = {}
    gflops: dict[str, float] = {}
    for name in names:
        fns, gflops[name] = model_cases(name, length, batch)
        cases.update({f"{name}/{k}": fn for k, fn in fns.items()})
    big = {k: v for k, v in cases.items() if not k.endswith("/infer_b1")}
    b1 = {k: v for k, v in cases.items() if k.endswith("/infer_b1")}
    med = {**interleaved(big, repeats, warmup=1), **interleaved(b1, max(repeats, 10), warmup=2)}
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        tr, i64, i1 = (med[f"{name}/{k}"] for k in ("train", "infer_b64", "infer_b1"))
        out[name] = {
            "gflops_fwd_per_ecg": gflops[name],
            "train_ecg_per_s": batch / tr["wall_s"],
            "train_wall_s": tr["wall_s"],
            "train_cpu_s": tr["cpu_s"],
            "infer_ms_per_ecg_b64": 1000 * i64["wall_s"] / batch,
            "infer_cpu_ms_per_ecg_b64": 1000 * i64["cpu_s"] / batch,
            "infer_ms_b1": 1000 * i1["wall_s"],
            "infer_cpu_ms_b1": 1000 * i1["cpu_s"],
        }
    return out


def speedups(models: dict[str, dict[str, Any]], lengths: dict[str, int],
             ref: str = "vit1d") -> dict[str, Any]:
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
            for tag in lengths
            for what, keys in pairs.items()
            for clock, key in zip(("wall", "cpu"), keys, strict=True)
            if what != "flops" or clock == "wall"
        }
    return out


def markdown_table(results: dict[str, Any]) -> str:
    """The README table (from the result's ``details``): FLOPs, training ECG/s, ms/ECG."""
    lines = [
        "| model | params | GFLOP/ECG 2.5 s / 10 s | train ECG/s 2.5 s | train ECG/s 10 s "
        "| infer ms/ECG b64 2.5 s | infer ms b1 2.5 s | infer ms b1 10 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    batch = results["settings"]["batch"]

    def f(entry: dict[str, Any], key: str, fmt: str, per_cpu: bool = False) -> str:
        if key not in entry:
            return "—"  # length not measured (--quick: 2.5 s only)
        return format(batch / entry[key] if per_cpu else entry[key], fmt)

    for name, e in results["models"].items():
        a, b = e["2.5s"], e.get("10s", {})
        lines.append(
            f"| `{name}` | {e['params'] / 1e6:.2f} M "
            f"| {f(a, 'gflops_fwd_per_ecg', '.3f')} / {f(b, 'gflops_fwd_per_ecg', '.3f')} "
            f"| {f(a, 'train_ecg_per_s', '.1f')} ({f(a, 'train_cpu_s', '.1f', True)} per CPU-s) "
            f"| {f(b, 'train_ecg_per_s', '.1f')} ({f(b, 'train_cpu_s', '.1f', True)} per CPU-s) "
            f"| {f(a, 'infer_ms_per_ecg_b64', '.2f')} "
            f"(CPU {f(a, 'infer_cpu_ms_per_ecg_b64', '.2f')}) "
            f"| {f(a, 'infer_ms_b1', '.1f')} (CPU {f(a, 'infer_cpu_ms_b1', '.1f')}) "
            f"| {f(b, 'infer_ms_b1', '.1f')} (CPU {f(b, 'infer_cpu_ms_b1', '.1f')}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="3 repeats, 2.5 s inputs only")
    parser.add_argument(
        "--table", action="store_true", help="print the table of --out, run nothing"
    )
    parser.add_argument("--models", default=",".join(FAMILIES))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "models.json"))
    args = parser.parse_args()
    if args.table:
        print(markdown_table(json.loads(Path(args.out).read_text())["details"]))
        return
    if args.quick:
        args.repeats = 3
    lengths = {"2.5s": 250} if args.quick else LENGTHS
    torch.set_num_threads(args.threads)
    names = args.models.split(",")
    models: dict[str, dict[str, Any]] = {}
    with monitor_load() as mon:
        per_length = {tag: bench_length(names, n, args.batch, args.repeats)
                      for tag, n in lengths.items()}
    for name in names:
        info = get_model_info(name)
        models[name] = {"params": info["param_count"], "family": info["family"],
                        **{tag: per_length[tag][name] for tag in lengths}}
        for tag in lengths:
            r = models[name][tag]
            print(f"{name:14s} {tag:5s} {r['gflops_fwd_per_ecg']:6.3f} GFLOP  "
                  f"train {r['train_ecg_per_s']:8.1f} ECG/s  infer b64 "
                  f"{r['infer_ms_per_ecg_b64']:7.3f} ms/ECG  b1 {r['infer_ms_b1']:7.2f} ms")
    details = {"settings": {"batch": args.batch, "repeats": args.repeats, "fs_hz": 100,
                            "lengths": lengths, "threads": args.threads},
               "models": models, "speedup_vs_vit1d": speedups(models, lengths),
               "speedup_vs_vit1d_lead": speedups(models, lengths, ref="vit1d_lead")}
    ref = "cnn1d" if "cnn1d" in models else names[0]
    headline = {"label": f"{ref} speed-up over vit1d, training step on 2.5 s crops",
                "ratio": (models["vit1d"]["2.5s"]["train_wall_s"]
                          / models[ref]["2.5s"]["train_wall_s"]) if "vit1d" in models
                else float("nan"), "better": "higher"}
    medians = {f"{n}/{tag}": {k: v for k, v in models[n][tag].items()}
               for n in names for tag in lengths}
    result = make_result("models", quick=args.quick, command=" ".join(["python", *sys.argv]),
                         headline=headline, medians=medians, load=mon.summary(args.threads),
                         details=details)
    write_result(result, Path(args.out))
    print(markdown_table(details))


if __name__ == "__main__":
    main()
