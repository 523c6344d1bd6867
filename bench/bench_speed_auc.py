"""Trainer speed-up at equal accuracy: one fold of the frozen PTB-XL CPU profile, before/after.

For each member of ``bench/configs/ptbxl_superdiag_cpu_frozen.yaml`` (today's CPU profile,
frozen so the baseline does not move) the fold-``--fold`` model is trained twice in this
process, one after the other (member by member: before, after, before, after ...), with
the same seed, split and inner early-stopping split:

- before: ``training.precision: fp32`` (the trainer's behaviour before issue 18);
- after: ``training.precision: auto`` (the new default).

Reported per member: fit seconds before -> after (ratio), the fold's dev OOF macro-AUC
before -> after with a paired patient-cluster bootstrap CI of the difference (the noise
it must stay within), and which precision ``auto`` chose. Headline: the training-stage
speed-up (sum of fit seconds before / after) -- the issue's goal is >= 1.5 at equal AUC.
About 1 hour on 2 idle cores with ``--threads 1``; needs $ENSEMBLER_PTBXL_DIR.

    ENSEMBLER_PTBXL_DIR=... .venv/bin/python bench/bench_speed_auc.py [--quick] [--fold 0]

``--quick`` caps every model at 2 epochs (a smoke run of the protocol, not the check).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import numpy as np
import torch
from _timing import ROOT, make_result, monitor_load, write_result

from ensembler.config import load_config
from ensembler.evaluation import paired_bootstrap_delta
from ensembler.pipeline.context import RunContext
from ensembler.training.jobs import FoldJob, run_fold_job
from ensembler.training.loop import build_model, window_lengths
from ensembler.training.metrics import macro_auc
from ensembler.training.precision import choose_autocast
from ensembler.training.runner import member_specs

FROZEN = ROOT / "bench" / "configs" / "ptbxl_superdiag_cpu_frozen.yaml"


def train_side(ctx: RunContext, precision: str, member: str, fold: int, epochs: int | None,
               threads: int, out: Path) -> dict[str, Any]:
    cfg = ctx.cfg.model_copy(update={"training": ctx.cfg.training.model_copy(
        update={"precision": precision, **({"epochs": epochs} if epochs else {})})})
    spec = next(s for s in member_specs(cfg, ctx.cohort) if s.name == member)
    job = FoldJob(member=spec, fold=fold, run_seed=cfg.seed,
                  cohort_fingerprint=ctx.cohort.fingerprint,
                  split_fingerprint=ctx.split.fingerprint)
    meta = run_fold_job(job, ctx.cohort, ctx.split.fold, out / precision, threads)
    preds = dict(np.load(job.folder(out / precision) / "preds.npz", allow_pickle=False))
    return {"meta": meta, "oof_rows": preds["oof_rows"], "oof": preds["oof"]}


def auto_choice(ctx: RunContext, member: str) -> str:
    """What ``precision: auto`` picks for ``member`` on this machine (bf16 or fp32)."""
    spec = next(s for s in member_specs(ctx.cfg, ctx.cohort) if s.name == member)
    n_leads, n_samples = ctx.cohort.signals.shape[1:]
    model = build_model(spec, n_leads, ctx.cohort.n_classes)
    win, _ = window_lengths(spec, ctx.cohort.fs, n_samples)
    dtype = choose_autocast("auto", torch.device("cpu"), model, n_leads, win or n_samples,
                            len(spec.tabular_names))
    return "fp32" if dtype is None else "bf16"


def compare(ctx: RunContext, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    rows = before["oof_rows"]
    if not np.array_equal(rows, after["oof_rows"]):
        raise RuntimeError("the two sides scored different OOF rows")
    y = ctx.cohort.labels[rows]
    d = paired_bootstrap_delta(y, after["oof"], before["oof"], ctx.cohort.patient_id[rows],
                               n_boot=1000, seed=0)
    sb, sa = before["meta"]["train_seconds"], after["meta"]["train_seconds"]
    return {"fit_s_before": sb, "fit_s_after": sa, "speedup": sb / sa,
            "epochs_before": before["meta"]["epochs_run"],
            "epochs_after": after["meta"]["epochs_run"],
            "oof_auc_before": macro_auc(y, before["oof"]),
            "oof_auc_after": macro_auc(y, after["oof"]),
            "delta_auc": d.delta, "delta_ci": [d.lo, d.hi],
            "within_noise": bool(d.lo <= 0.0 <= d.hi or d.delta >= 0.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(FROZEN))
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (profile: 1)")
    ap.add_argument("--members", default="", help="comma-separated subset")
    ap.add_argument("--quick", action="store_true", help="2 epochs per model (smoke run)")
    ap.add_argument("--work", default=None, help="folder for the cache and models")
    ap.add_argument("--out", default=None, help="result JSON (default bench/results/)")
    args = ap.parse_args()
    cfg = load_config(args.config)
    if cfg.data.source == "ptbxl" and not os.environ.get("ENSEMBLER_PTBXL_DIR"):
        sys.exit("set ENSEMBLER_PTBXL_DIR to a PTB-XL copy")
    work = Path(args.work or tempfile.mkdtemp(prefix="speed-auc-"))
    ctx = RunContext.create(cfg, work, progress=False)
    names = [m.name for m in cfg.models]
    if args.members:  # in the order given (the costliest first, while the machine is idlest)
        wanted = [n for n in args.members.split(",") if n]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            sys.exit(f"--members: unknown {unknown}; members of {args.config}: {names}")
        names = wanted
    per_member: dict[str, Any] = {}
    medians: dict[str, Any] = {}
    with monitor_load(interval=5.0) as mon:
        for name in names:
            sides = {p: train_side(ctx, p, name, args.fold, 2 if args.quick else None,
                                   args.threads, work / "models")
                     for p in ("fp32", "auto")}
            per_member[name] = compare(ctx, sides["fp32"], sides["auto"])
            per_member[name]["auto_chose"] = auto_choice(ctx, name)
            medians[f"{name}/before"] = {"wall_s": per_member[name]["fit_s_before"]}
            medians[f"{name}/after"] = {"wall_s": per_member[name]["fit_s_after"]}
            r = per_member[name]
            print(f"{name:12s} fit {r['fit_s_before']:7.1f} -> {r['fit_s_after']:7.1f} s "
                  f"({r['speedup']:.2f}x)  OOF AUC {r['oof_auc_before']:.4f} -> "
                  f"{r['oof_auc_after']:.4f} (delta {r['delta_auc']:+.4f} "
                  f"[{r['delta_ci'][0]:+.4f}, {r['delta_ci'][1]:+.4f}])", flush=True)
    total_b = sum(r["fit_s_before"] for r in per_member.values())
    total_a = sum(r["fit_s_after"] for r in per_member.values())
    result = make_result(
        "speed_auc", quick=args.quick, command=" ".join(["python", *sys.argv]),
        headline={"label": f"training-stage speed-up on fold {args.fold} of the frozen CPU "
                           "profile (sum of fit seconds, fp32 / auto)",
                  "ratio": total_b / total_a, "better": "higher", "target": 1.5},
        medians=medians, load=mon.summary(args.threads),
        details={"config": str(args.config),
                 "fold": args.fold, "members": per_member,
                 "all_within_noise": all(r["within_noise"] for r in per_member.values())})
    write_result(result, Path(args.out) if args.out else None)


if __name__ == "__main__":
    main()
