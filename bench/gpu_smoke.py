"""CUDA smoke run: one epoch of every PTB-XL ``--profile full`` member on a cache slice.

Two steps, neither needing the network:

1. ``python bench/gpu_smoke.py make-slice`` (on the machine with the PTB-XL cache): writes
   ``bench/gpu_slice/ptbxl_slice.npz`` (<= 40 MB: 10 s records at 100 Hz, labels,
   patient ids and a patient-grouped train/eval split) from the preprocessed cache of
   ``configs/ptbxl_superdiag.yaml`` (built under ``--cache-root`` when absent).
2. ``python bench/gpu_smoke.py run`` (on the CUDA machine, with the slice carried along):
   for each member of ``--profile full`` (device auto, precision auto = bf16 autocast on
   CUDA, batches through pinned memory) trains ``--epochs`` epochs with the fold trainer
   (the first is a warm-up; throughput is the last epoch's training records per second),
   then scores the eval rows on the device and through the bundle's own CPU path (weights
   saved as safetensors, rebuilt by ``load_fold_model``, ``BundleMember.predict`` in
   fp32) and reports max |delta| between them. Each family's throughput is also given
   as a ratio to the same member trained on 2 CPU threads of the same machine
   (``--cpu-steps`` batches, after a warm-up epoch), and, with ``--cpu-reference`` (a
   result of ``run --device cpu`` on the 2-core development machine), to that figure.

``--dry`` trains 2 tiny batches per member (to check that the script runs, on any
device). Writes ``bench/results/gpu_smoke.json`` (or ``--out``).

On the lent H200 machine (see /work/.library/device/README.md): its image has torch,
numpy, pandas, scipy, scikit-learn, safetensors, PyYAML and onnx; importing
``ensembler.bundle`` also needs pydantic, pydantic-core, annotated-types,
typing-inspection, lightgbm, optuna, alembic, sqlalchemy, mako, colorlog, wfdb and
soundfile, carried as wheels for Python 3.12 in ``.whl``. ``bench/gpu_slice/`` is
git-ignored, so name it in ``carry`` too. Command there (about 2 minutes expected):
``PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 python3 bench/gpu_smoke.py run --out
$OUT/gpu_smoke.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import numpy as np
import torch
from _timing import ROOT, make_result, monitor_load, write_result
from safetensors.torch import save as save_safetensors

from ensembler.bundle.members import BundleMember, load_fold_model
from ensembler.config import load_config
from ensembler.training.loop import fit_model, resolve_device, window_lengths
from ensembler.training.members import MemberSpec, expand_entry
from ensembler.training.windows import predict_windows

if TYPE_CHECKING:  # the data package needs wfdb, which the CUDA machine may lack
    from ensembler.data.cohort import Cohort

CONFIG = ROOT / "configs" / "ptbxl_superdiag.yaml"
SLICE = ROOT / "bench" / "gpu_slice" / "ptbxl_slice.npz"
MAX_BYTES = 40 * 2**20


def make_slice(cohort: Cohort, n_records: int, seed: int = 0, eval_fraction: float = 0.25
               ) -> dict[str, np.ndarray]:
    """A random patient-grouped slice of ``cohort``: arrays for ``np.savez`` (no objects).

    Whole patients are drawn until ``n_records`` records; a quarter of the drawn patients
    form the eval rows. Signals stay float32 (N, leads, samples), as in the cache.
    """
    rng = np.random.default_rng(seed)
    patients = rng.permutation(np.unique(cohort.patient_id))
    rows: list[int] = []
    eval_rows: list[int] = []
    for i, p in enumerate(patients):
        mine = np.flatnonzero(cohort.patient_id == p).tolist()
        if len(rows) + len(mine) > n_records:
            break
        rows += mine
        if i % round(1 / eval_fraction) == 0:
            eval_rows += mine
    idx = np.sort(np.asarray(rows, dtype=np.int64))
    return {
        "signals": np.asarray(cohort.signals[idx], np.float32),
        "labels": np.asarray(cohort.labels[idx], np.uint8),
        "patient_id": np.asarray(cohort.patient_id[idx]).astype(str),
        "is_eval": np.isin(idx, eval_rows),
        "class_names": np.asarray(cohort.class_names, dtype=str),
        "fs": np.asarray(cohort.fs, np.float64),
    }


def write_slice(arrays: dict[str, np.ndarray], out: Path) -> None:
    size = sum(a.nbytes for a in arrays.values())
    if size > MAX_BYTES:
        raise SystemExit(f"slice of {size / 2**20:.1f} MB exceeds 40 MB; use fewer --records")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)  # type: ignore[arg-type]  # str-keyed arrays
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB, {len(arrays['labels'])} records, "
          f"{int(arrays['is_eval'].sum())} eval)")


def cmd_make_slice(args: argparse.Namespace) -> None:
    from ensembler.data import load_cohort

    cfg = load_config(CONFIG)
    cohort = load_cohort(cfg, Path(args.cache_root), progress=False)
    write_slice(make_slice(cohort, args.records, args.seed), Path(args.out))


def full_profile_specs(device: str, batch_size: int | None) -> list[MemberSpec]:
    cfg = load_config(CONFIG, profile="full")
    override: dict[str, Any] = {"device": device, "precision": "auto"}
    if batch_size:
        override["batch_size"] = batch_size
    cfg = cfg.model_copy(update={"training": cfg.training.model_copy(update=override)})
    return [expand_entry(entry, cfg, [])[0] for entry in cfg.models]


def cpu_max_abs_diff(spec: MemberSpec, result: Any, signals: np.ndarray, n_classes: int,
                     device: torch.device, win: int | None, stride: int | None
                     ) -> dict[str, float]:
    """Device predictions (as the trainer makes them, and in fp32) vs the bundle's CPU path."""
    x = result.state.transform_signals(signals)
    agg = spec.training.eval_aggregate
    on_dev = predict_windows(result.model, x, None, win, stride, agg, device=device,
                             autocast=device.type == "cuda")
    on_dev_fp32 = predict_windows(result.model, x, None, win, stride, agg, device=device)
    weights = save_safetensors({k: v.detach().cpu().contiguous()
                                for k, v in result.model.state_dict().items()})
    fm = load_fold_model(spec, "fold_0", weights, json.dumps(asdict(result.state)),
                         signals.shape[1], n_classes, spec.name)
    on_cpu = BundleMember(spec=spec, window=win, stride=stride, models=[fm]).predict(
        0, signals, None)
    return {"max_abs_diff_cpu_vs_device": float(np.max(np.abs(on_cpu - on_dev))),
            "max_abs_diff_cpu_vs_device_fp32": float(np.max(np.abs(on_cpu - on_dev_fp32)))}


def cpu_throughput(spec: MemberSpec, data: dict[str, np.ndarray], train_idx: np.ndarray,
                   threads: int) -> float:
    """Training ECG/s of ``spec`` on this machine's CPU with ``threads`` torch threads: the
    second of two epochs over ``train_idx`` (the first is the warm-up)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        cpu_spec = replace(spec, training=spec.training.model_copy(update={"device": "cpu"}))
        res = fit_model(cpu_spec, data["signals"], data["labels"], None, float(data["fs"]),
                        train_idx, None, seed=0, epochs=2, device=torch.device("cpu"),
                        log=None)
    finally:
        torch.set_num_threads(before)
    return len(train_idx) / float(res.curve["seconds"].iloc[-1])


def run_member(spec: MemberSpec, data: dict[str, np.ndarray], train_idx: np.ndarray,
               eval_idx: np.ndarray, device: torch.device, epochs: int) -> dict[str, Any]:
    fs = float(data["fs"])
    t0 = time.perf_counter()
    result = fit_model(spec, data["signals"], data["labels"], None, fs, train_idx, None,
                       seed=0, epochs=epochs, device=device, log=None)
    if device.type == "cuda":
        torch.cuda.synchronize()
    epoch_s = float(result.curve["seconds"].iloc[-1])
    win, stride = window_lengths(spec, fs, data["signals"].shape[-1])
    diffs = cpu_max_abs_diff(spec, result, data["signals"][eval_idx],
                             data["labels"].shape[1], device, win, stride)
    return {"arch": spec.arch, "autocast": result.autocast, "n_params": result.n_params,
            "train_records": len(train_idx), "epochs": epochs, "last_epoch_s": epoch_s,
            "train_ecg_per_s": len(train_idx) / epoch_s,
            "total_s": time.perf_counter() - t0, **diffs}


def cmd_run(args: argparse.Namespace) -> None:
    path = Path(args.slice)
    if not path.is_file():
        raise SystemExit(f"{path}: no slice; make one with `python bench/gpu_smoke.py "
                         "make-slice` where the PTB-XL cache is")
    data = dict(np.load(path, allow_pickle=False))
    device = resolve_device(args.device)
    rows = np.arange(len(data["labels"]))
    train_idx, eval_idx = rows[~data["is_eval"]], rows[data["is_eval"]]
    epochs, batch = args.epochs, None
    if args.dry:
        batch, epochs = 4, 1
        train_idx, eval_idx = train_idx[:8], eval_idx[:4]
    elif args.max_train:
        train_idx = train_idx[:args.max_train]
    torch.manual_seed(0)
    members: dict[str, Any] = {}
    with monitor_load() as mon:
        for spec in full_profile_specs(args.device, batch):
            members[spec.name] = run_member(spec, data, train_idx, eval_idx, device, epochs)
            m = members[spec.name]
            if args.cpu_steps:
                n = args.cpu_steps * (batch or spec.training.batch_size)
                m["cpu_2threads_ecg_per_s"] = cpu_throughput(spec, data, train_idx[:n], 2)
                m["device_over_cpu_2threads"] = (m["train_ecg_per_s"]
                                                 / m["cpu_2threads_ecg_per_s"])
            print(f"{spec.name:16s} {m['autocast']:4s} {m['train_ecg_per_s']:9.1f} ECG/s "
                  f"(last epoch {m['last_epoch_s']:.2f} s)  max|d| CPU vs {device.type}: "
                  f"{m['max_abs_diff_cpu_vs_device']:.2e} "
                  f"(fp32 {m['max_abs_diff_cpu_vs_device_fp32']:.2e})  [{m['total_s']:.1f} s]",
                  flush=True)
    finish(args, device, members, mon)


def finish(args: argparse.Namespace, device: torch.device, members: dict[str, Any],
           mon: Any) -> None:
    ref: dict[str, Any] = {}
    if args.cpu_reference:
        ref = json.loads(Path(args.cpu_reference).read_text())["details"]["members"]
    for name, m in members.items():
        if name in ref:
            m["cpu_reference_ecg_per_s"] = ref[name]["train_ecg_per_s"]
            m["device_over_cpu"] = m["train_ecg_per_s"] / ref[name]["train_ecg_per_s"]
    key = "device_over_cpu" if ref else "device_over_cpu_2threads"
    ratios = [m[key] for m in members.values() if key in m]
    what = "the --cpu-reference file" if ref else "2 CPU threads of this machine"
    headline = {"label": f"training throughput, {device.type} / {what} (median over families)",
                "ratio": statistics.median(ratios) if ratios else float("nan"),
                "better": "higher"}
    if not ratios:
        headline["note"] = "no CPU figure (--cpu-steps 0 and no --cpu-reference)"
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else None
    result = make_result(
        args.name, quick=args.dry, command=" ".join(["python", *sys.argv]), headline=headline,
        medians={n: {"wall_s": m["last_epoch_s"], "repeats": 1} for n, m in members.items()},
        load=mon.summary(torch.get_num_threads()),
        details={"device": str(device), "gpu": gpu, "dry": args.dry, "members": members,
                 "slice": str(args.slice)})
    write_result(result, Path(args.out) if args.out else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make-slice", help="write the cache slice (needs the PTB-XL cache)")
    mk.add_argument("--records", type=int, default=800)
    mk.add_argument("--seed", type=int, default=0)
    mk.add_argument("--cache-root", default=str(ROOT / "runs" / "cache"))
    mk.add_argument("--out", default=str(SLICE))
    run = sub.add_parser("run", help="train each --profile full member on the slice")
    run.add_argument("--slice", default=str(SLICE))
    run.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    run.add_argument("--epochs", type=int, default=2)
    run.add_argument("--max-train", type=int, default=0, help="cap the training records")
    run.add_argument("--dry", action="store_true", help="2 batches of 4 records per member")
    run.add_argument("--cpu-reference", default=None, help="a `run --device cpu` result JSON")
    run.add_argument("--cpu-steps", type=int, default=2,
                     help="also time this many training batches per family on 2 CPU threads "
                          "here (0: skip)")
    run.add_argument("--name", default="gpu_smoke", help="result name (file stem)")
    run.add_argument("--out", default=None)
    args = ap.parse_args()
    (cmd_make_slice if args.cmd == "make-slice" else cmd_run)(args)


if __name__ == "__main__":
    main()
