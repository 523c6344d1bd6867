"""CNN vs Transformer inference at the settings the PTB-XL profiles actually use.

The seed claims "a CNN is 5-10x faster than a Transformer at inference". This times every
member of ``configs/ptbxl_superdiag.yaml`` -- the CPU profile (top level) and ``--profile
full`` -- on 10 s records at 100 Hz exactly as the trainer and bundle score them (2.5 s
windows, stride 1.25 s, probabilities averaged: 7 windows per record), untrained weights
(latency does not depend on them), at batch 1 and 64 with 2 threads, in torch eager and in
ONNX Runtime. All members of one profile, batch size and backend run interleaved. Ratios
are vit1d's time over each other member's (> 1: that member is faster than vit1d).

    .venv/bin/python bench/bench_inference.py [--quick] [--threads 2] [--profiles cpu,full]

Writes bench/results/inference.json. Headline: vit1d's time over the median of the other
(all convolutional) members' in the first profile listed, torch eager, batch 64.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import numpy as np
import torch
from _timing import ROOT, interleaved, make_result, monitor_load, write_result

from ensembler.bundle.members import onnx_predict_windows
from ensembler.bundle.onnx_io import export_onnx
from ensembler.config import load_config
from ensembler.training.loop import build_model, window_lengths
from ensembler.training.members import expand_entry
from ensembler.training.windows import predict_windows

CONFIG = ROOT / "configs" / "ptbxl_superdiag.yaml"
LEADS, FS, SAMPLES, CLASSES = 12, 100.0, 1000, 5
TRANSFORMER = "vit1d"


def members(profile: str | None) -> list[tuple[str, torch.nn.Module, int, int]]:
    """(name, eval-mode model, window, stride) of each member of a profile."""
    cfg = load_config(CONFIG, profile=profile)
    out = []
    for entry in cfg.models:
        spec = expand_entry(entry, cfg, [])[0]
        torch.manual_seed(0)
        model = build_model(spec, LEADS, CLASSES).eval()
        win, stride = window_lengths(spec, FS, SAMPLES)
        out.append((spec.name, model, win or SAMPLES, stride or SAMPLES))
    return out


def ort_session(model: torch.nn.Module, window: int, threads: int, folder: Path) -> Any:
    import onnxruntime as ort

    path = folder / f"{id(model)}.onnx"
    export_onnx(model, path, LEADS, window, 0)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path.read_bytes(), opts, providers=["CPUExecutionProvider"])


def profile_cases(mems: list[tuple[str, torch.nn.Module, int, int]], x: np.ndarray,
                  threads: int, folder: Path) -> dict[str, Callable[[], object]]:
    cases: dict[str, Callable[[], object]] = {}
    for name, model, win, stride in mems:
        sess = ort_session(model, win, threads, folder)
        cases[f"torch/{name}"] = (lambda m=model, w=win, s=stride:
                                  predict_windows(m, x, None, w, s, batch_size=512))
        cases[f"onnx/{name}"] = (lambda sess=sess, w=win, s=stride:
                                 onnx_predict_windows(sess, x, None, w, s, "mean"))
    return cases


def ratios(med: dict[str, Any], names: list[str]) -> dict[str, dict[str, float]]:
    """backend -> member -> vit1d time / member time."""
    out: dict[str, dict[str, float]] = {}
    for backend in ("torch", "onnx"):
        ref = med[f"{backend}/{TRANSFORMER}"]["wall_s"]
        out[backend] = {n: ref / med[f"{backend}/{n}"]["wall_s"] for n in names
                        if n != TRANSFORMER}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--profiles", default="cpu,full")
    ap.add_argument("--quick", action="store_true", help="2 repeats (batch 1: 4), 1 warm-up")
    args = ap.parse_args()
    warmup = 2
    if args.quick:
        args.repeats, warmup = 2, 1
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x64 = rng.normal(size=(64, LEADS, SAMPLES)).astype(np.float32)
    details: dict[str, Any] = {"settings": {
        "threads": args.threads, "record_s": SAMPLES / FS, "fs_hz": FS,
        "windowing": "as configured (2.5 s windows, stride 1.25 s, mean)",
        "config": str(CONFIG.relative_to(ROOT)), "repeats": args.repeats}}
    medians: dict[str, Any] = {}
    with monitor_load() as mon, tempfile.TemporaryDirectory() as tmp:
        for prof in args.profiles.split(","):
            mems = members(None if prof == "cpu" else prof)
            names = [m[0] for m in mems]
            details[prof] = {}
            for bs in (1, 64):
                cases = profile_cases(mems, x64[:bs], args.threads, Path(tmp))
                med = interleaved(cases, args.repeats * (2 if bs == 1 else 1), warmup=warmup)
                medians.update({f"{prof}/b{bs}/{k}": v for k, v in med.items()})
                details[prof][f"batch_{bs}"] = {
                    "ms_per_ecg": {k: 1000 * v["wall_s"] / bs for k, v in med.items()},
                    "vit1d_over_member": ratios(med, names)}
                r = details[prof][f"batch_{bs}"]["vit1d_over_member"]
                print(f"{prof} batch {bs}: vit1d time / member time "
                      f"torch {dict((k, round(v, 2)) for k, v in r['torch'].items())} "
                      f"onnx {dict((k, round(v, 2)) for k, v in r['onnx'].items())}",
                      flush=True)
    first = args.profiles.split(",")[0]
    cnns = details[first]["batch_64"]["vit1d_over_member"]["torch"]
    headline = {"label": f"vit1d / median CNN member inference time ({first} profile, torch "
                         "eager, batch 64, 10 s records)",
                "ratio": statistics.median(cnns.values()), "better": "higher",
                "note": "> 1: the CNNs are faster than the Transformer"}
    result = make_result("inference", quick=args.quick, command=" ".join(["python", *sys.argv]),
                         headline=headline, medians=medians, load=mon.summary(args.threads),
                         details=details)
    write_result(result)


if __name__ == "__main__":
    main()
