"""Training throughput of ``s4d`` beside ``resnet1d_wang`` and ``inception1d``, interleaved.

One process, one thread setting; each repeat times one training step (forward + backward +
AdamW step at batch 64) of every model in turn (A, B, C, A, B, C, ...), so a change in the
machine's load hits all models alike. Reports medians of wall and CPU time, ECG/s and the
ratios to ``resnet1d_wang`` (headline: s4d's), with the load and ``contended`` flag of
bench/_timing.py (then read the ratios, not the absolute figures). Writes
``bench/results/s4d.json`` (schema in bench/README.md).

    .venv/bin/python bench/bench_s4d.py [--quick] [--threads 2] [--repeats 5] [--lengths 250,1000]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import torch
from _timing import interleaved, make_result, monitor_load, ratio, write_result

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


def summarise(med: dict[str, Any], batch: int) -> dict[str, Any]:
    """ECG/s and ratios to :data:`REF` (> 1: faster than the reference) from the medians."""
    out: dict[str, Any] = {}
    for name, m in med.items():
        out[name] = {"train_ecg_per_s": batch / m["wall_s"],
                     "train_ecg_per_cpu_s": batch / m["cpu_s"],
                     "ratio_vs_" + REF: {"wall": ratio(med, REF, name),
                                         "cpu": ratio(med, REF, name, "cpu_s")}}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lengths", default="250,1000")
    parser.add_argument("--quick", action="store_true", help="3 repeats, 250 samples only")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "s4d.json"))
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.lengths = 3, "250"
    torch.set_num_threads(args.threads)
    details: dict[str, Any] = {
        "settings": {"batch": args.batch, "repeats": args.repeats, "fs_hz": 100,
                     "models": {m: get_model_info(m)["param_count"] for m in MODELS}},
        "lengths": {}}
    medians: dict[str, Any] = {}
    with monitor_load() as mon:
        for length in (int(v) for v in args.lengths.split(",")):
            med = interleaved({m: train_step(m, length, args.batch) for m in MODELS},
                              args.repeats)
            medians.update({f"{length}/{k}": v for k, v in med.items()})
            summary = summarise(med, args.batch)
            details["lengths"][str(length)] = {"models": summary}
            for name, e in summary.items():
                r = e["ratio_vs_" + REF]
                print(f"{length:5d} {name:14s} {e['train_ecg_per_s']:7.1f} ECG/s  "
                      f"(per CPU-s {e['train_ecg_per_cpu_s']:7.1f})  ratio vs {REF}: "
                      f"wall {r['wall']:.2f} cpu {r['cpu']:.2f}", flush=True)
    first = args.lengths.split(",")[0]
    headline = {"label": f"s4d training speed over {REF} ({first} samples; > 1: s4d faster)",
                "ratio": details["lengths"][first]["models"]["s4d"]["ratio_vs_" + REF]["wall"],
                "better": "higher"}
    result = make_result("s4d", quick=args.quick, command=" ".join(["python", *sys.argv]),
                         headline=headline, medians=medians, load=mon.summary(args.threads),
                         details=details)
    write_result(result, Path(args.out))


if __name__ == "__main__":
    main()
