"""Fold-trainer speed options on CPU, each on/off side by side in one process.

Input shaped like the PTB-XL CPU profile: 12 leads x 250-sample crops (2.5 s at
100 Hz), batch 64, architectures with the profile's parameters. Per family, the cases
run interleaved (A, B, A, B ...) and each option is reported as a ratio of medians
(> 1: the option is faster):

- ``bf16``: a training step (forward, BCE, backward, clip, AdamW) under bf16 autocast vs
  fp32 -- only where the CPU reports AVX512-BF16/AMX-BF16 (otherwise skipped, said so);
- ``threads``: the same step on 2 torch threads vs ``--threads`` (default 1, as the
  PTB-XL CPU profile's jobs: n_jobs 2 x threads_per_job 1);
- ``eval_batch``: sliding-window evaluation of 10 s records, 512 vs 128 windows a batch;
- ``eval_fused``: the same evaluation with conv+BN folded (eval mode) vs not;
- ``eval_bf16``: the same evaluation under bf16 autocast vs fp32 (where supported);
- ``crop``: one batch cropped from the raw (memmap) records and standardised vs cropped
  from records standardised up front (the copy saved is reported separately);
- ``compile`` (``--compile``, slow): torch.compile (inductor) step vs eager, compile time.

    .venv/bin/python bench/bench_train_speed.py [--quick] [--families a,b] [--compile]

Writes bench/results/train_speed.json. Headline: geometric mean over families of the
bf16 training-step speed-up (fp32 step time / bf16 step time).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import numpy as np
import torch
from _timing import interleaved, make_result, monitor_load, ratio, write_result
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from base_models import create_model
from ensembler.training.precision import choose_autocast, cpu_has_bf16
from ensembler.training.state import FoldState
from ensembler.training.windows import crop_batch, predict_windows, random_crop

# the PTB-XL CPU profile's parameters (configs/ptbxl_superdiag.yaml); defaults elsewhere
FAMILIES: dict[str, dict[str, Any]] = {
    "cnn1d": {},
    "resnet1d": {"width": 64},
    "xresnet1d": {},
    "inception1d": {"filters": 16, "depth": 6},
    "cnn_lstm": {"conv_channels": [32, 32, 32], "hidden": 32},
    "vit1d": {"patch_size": 10, "dim": 64, "depth": 2, "heads": 4},
    "ts_cnn": {"slice_length": 100, "overlap": 0.5, "width": 16},
}
BATCH, LEADS, CROP, RECORD, CLASSES = 64, 12, 250, 1000, 5


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """``model`` (eval mode) with every Conv1d directly followed by a BatchNorm1d inside an
    nn.Sequential folded by torch's ``fuse_conv_bn_eval`` (the BN becomes Identity)."""
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for a, b in itertools.pairwise(names):
                conv, bn = module._modules[a], module._modules[b]
                if isinstance(conv, nn.Conv1d) and isinstance(bn, nn.BatchNorm1d):
                    module._modules[a] = fuse_conv_bn_eval(conv, bn)
                    module._modules[b] = nn.Identity()
    return model


def make_model(arch: str) -> nn.Module:
    torch.manual_seed(0)
    return create_model(arch, n_leads=LEADS, n_classes=CLASSES, **FAMILIES[arch])


def train_step(model: nn.Module, bf16: bool, threads: int) -> Callable[[], None]:
    x = torch.randn(BATCH, LEADS, CROP)
    y = (torch.rand(BATCH, CLASSES) < 0.3).float()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    model.train()

    def step() -> None:
        torch.set_num_threads(threads)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = loss_fn(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return step


def eval_case(model: nn.Module, x: np.ndarray, batch: int, bf16: bool, threads: int
              ) -> Callable[[], None]:
    def run() -> None:
        torch.set_num_threads(threads)
        predict_windows(model, x, None, CROP, CROP // 2, batch_size=batch, autocast=bf16)

    return run


def family_cases(arch: str, bf16: bool, threads: int, n_eval: int) -> dict[str, Callable]:
    rng = np.random.default_rng(0)
    x_eval = rng.normal(size=(n_eval, LEADS, RECORD)).astype(np.float32)
    cases: dict[str, Callable[[], None]] = {
        "train_fp32": train_step(make_model(arch), False, threads),
        "train_fp32_2threads": train_step(make_model(arch), False, 2),
    }
    if bf16:
        cases["train_bf16"] = train_step(make_model(arch), True, threads)
    trained = make_model(arch).eval()
    fused = fuse_conv_bn(make_model(arch).eval())
    cases["eval_b128"] = eval_case(trained, x_eval, 128, False, threads)
    cases["eval_b512"] = eval_case(trained, x_eval, 512, False, threads)
    cases["eval_fused_b128"] = eval_case(fused, x_eval, 128, False, threads)
    if bf16:
        cases["eval_bf16_b128"] = eval_case(trained, x_eval, 128, True, threads)
    return cases


def family_ratios(med: dict[str, Any], bf16: bool, n_eval: int) -> dict[str, Any]:
    out = {
        "train_ecg_per_s_fp32": BATCH / med["train_fp32"]["wall_s"],
        "threads_2_over_n": ratio(med, "train_fp32", "train_fp32_2threads"),
        "eval_batch_512_over_128": ratio(med, "eval_b128", "eval_b512"),
        "eval_fused_over_plain": ratio(med, "eval_b128", "eval_fused_b128"),
        "eval_ecg_per_s_fp32": n_eval / med["eval_b128"]["wall_s"],
    }
    if bf16:
        out["train_bf16_over_fp32"] = ratio(med, "train_fp32", "train_bf16")
        out["train_bf16_over_fp32_cpu"] = ratio(med, "train_fp32", "train_bf16", "cpu_s")
        out["train_ecg_per_s_bf16"] = BATCH / med["train_bf16"]["wall_s"]
        out["eval_bf16_over_fp32"] = ratio(med, "eval_b128", "eval_bf16_b128")
    return out


def crop_cases(n_records: int, repeats: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-batch crop cost from raw memmap vs pre-standardised array; setup copy saved."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "signals.f32"
        mm = np.memmap(path, np.float32, "w+", shape=(n_records, LEADS, RECORD))
        mm[:] = rng.normal(size=mm.shape).astype(np.float32)
        mm.flush()
        raw = np.memmap(path, np.float32, "r", shape=(n_records, LEADS, RECORD))
        rows = np.arange(n_records)
        state = FoldState.fit(raw, None, [], rows=rows)
        t0 = time.perf_counter()
        pre = state.transform_signals(raw[rows])
        setup_s = time.perf_counter() - t0
        batches = [rng.choice(n_records, BATCH, replace=False) for _ in range(20)]
        gen = np.random.default_rng(1)
        med = interleaved({
            "crop_raw": lambda: [crop_batch(raw, b, CROP, gen, state) for b in batches],
            "crop_prestandardised": lambda: [random_crop(pre, CROP, gen, rows=b)
                                             for b in batches],
        }, repeats)
        info = {"records": n_records, "upfront_standardise_s": setup_s,
                "upfront_copy_mb": pre.nbytes / 2**20,
                "per_20_batches_raw_over_pre": ratio(med, "crop_raw", "crop_prestandardised")}
    return med, info


def compile_case(arch: str, threads: int, repeats: int) -> dict[str, Any]:
    """Compiled vs eager training step, both at the precision ``training.precision: auto``
    picks for ``arch`` here (bf16 autocast for the convolutional families on a bf16 CPU)."""
    model = make_model(arch)
    bf16 = choose_autocast("auto", torch.device("cpu"), model, LEADS, CROP, 0) is not None
    eager = train_step(model, bf16, threads)
    compiled_model = torch.compile(make_model(arch))
    step = train_step(compiled_model, bf16, threads)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    step()
    compile_s = time.perf_counter() - t0
    med = interleaved({"eager": eager, "compiled": step}, repeats)
    return {"compile_s": compile_s, "compiled_over_eager": ratio(med, "eager", "compiled"),
            "precision": "bf16 autocast" if bf16 else "fp32", "medians": med}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default=",".join(FAMILIES))
    # 1: the PTB-XL CPU profile runs n_jobs 2 x threads_per_job 1
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--eval-records", type=int, default=64)
    ap.add_argument("--compile", default="", help="families to also time under torch.compile")
    ap.add_argument("--quick", action="store_true", help="3 repeats, 16 eval records")
    ap.add_argument("--out", default=None, help="result JSON (default bench/results/)")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.eval_records = 3, 16
    torch.set_num_threads(args.threads)
    if args.compile:
        # time a cold compile, as on a fresh machine: inductor's on-disk graph cache from an
        # earlier run would otherwise hide the compilation a first run pays
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_inductor_")
    bf16 = cpu_has_bf16()
    families = [f for f in args.families.split(",") if f]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        sys.exit(f"--families: unknown {unknown}; expected some of {sorted(FAMILIES)}")
    medians: dict[str, Any] = {}
    per_family: dict[str, Any] = {}
    with monitor_load() as mon:
        for arch in families:
            med = interleaved(family_cases(arch, bf16, args.threads, args.eval_records),
                              args.repeats, warmup=1)
            medians[arch] = med
            per_family[arch] = family_ratios(med, bf16, args.eval_records)
            print(arch, {k: round(v, 2) for k, v in per_family[arch].items()}, flush=True)
        crop_med, crop_info = crop_cases(2000 if not args.quick else 500, args.repeats)
        medians["crop"] = crop_med
        compiled = {a: compile_case(a, args.threads, args.repeats)
                    for a in args.compile.split(",") if a}
    speedups = [r["train_bf16_over_fp32"] for r in per_family.values() if bf16]
    headline = {
        "label": "bf16 autocast training-step speed-up (geometric mean over families)",
        "ratio": math.exp(np.mean(np.log(speedups))) if speedups else float("nan"),
        "better": "higher",
        "note": "" if bf16 else "this CPU reports no AVX512-BF16/AMX-BF16: bf16 not measured",
    }
    if compiled:
        gains = [c["compiled_over_eager"] for c in compiled.values()]
        headline = {"label": "torch.compile training-step speed-up over eager (geometric mean "
                             "over " + ", ".join(compiled) + ")",
                    "ratio": math.exp(np.mean(np.log(gains))), "better": "higher",
                    "note": "compile s: " + ", ".join(f"{a} {c['compile_s']:.0f}"
                                                       for a, c in compiled.items())}
    name = Path(args.out).stem if args.out else "train_speed"
    result = make_result(name, quick=args.quick,
                         command=" ".join(["python", *sys.argv]), headline=headline,
                         medians=medians, load=mon.summary(args.threads),
                         details={"per_family": per_family, "crop": crop_info,
                                  "compile": compiled, "cpu_bf16": bf16,
                                  "compile_cache": "cold (fresh TORCHINDUCTOR_CACHE_DIR)"
                                  if compiled else None,
                                  "settings": {"batch": BATCH, "leads": LEADS, "crop": CROP,
                                               "eval_record": RECORD, "stride": CROP // 2,
                                               "eval_records": args.eval_records,
                                               "repeats": args.repeats,
                                               "params": FAMILIES}})
    write_result(result, Path(args.out) if args.out else None)


if __name__ == "__main__":
    main()
