"""The PTB-XL CPU-profile run and its numbers.

Runs (or resumes) ``ensembler run configs/ptbxl_superdiag.yaml`` on
``$ENSEMBLER_PTBXL_DIR`` and writes ``bench/results/ptbxl_superdiag.json``:
per-member OOF (development) and test macro-AUC, train seconds and parameters, the
leaderboard with CIs, the primary comparison, stage seconds and the bundle parity.
``--summarise-only`` reads an existing run directory without running anything.

Not interleaved (one run takes about 40 minutes on 2 cores): the load average is sampled
every 5 s during the run and the result carries ``contended``; the headline is the
primary comparison's test macro-AUC ratio.

Run: ``ENSEMBLER_PTBXL_DIR=... .venv/bin/python bench/bench_ptbxl.py``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import numpy as np
from _timing import cpu_seconds, make_result, monitor_load, write_result

from ensembler.config import load_config
from ensembler.report.schema import read_metrics
from ensembler.training.metrics import macro_auc
from ensembler.training.predictions import load_all
from ensembler.utils.jsonclass import json_ready

ROOT = Path(__file__).resolve().parents[1]


def summarise(config: str, run_dir: Path) -> dict:
    from ensembler.pipeline.context import RunContext

    ctx = RunContext(cfg=load_config(ROOT / config), run_dir=run_dir, progress=False)
    cohort, split = ctx.cohort, ctx.split
    y_dev = cohort.labels[split.fold >= 0]
    y_test = cohort.labels[split.fold == -1]
    members = {}
    for name, p in load_all(run_dir / "predictions").items():
        members[name] = {
            "oof_macro_auc": macro_auc(y_dev, p.oof), "test_macro_auc": macro_auc(y_test, p.test),
            "train_seconds": float(np.sum(p.meta.train_seconds)),
            "best_epoch": p.meta.best_epoch, "n_params": p.meta.n_params,
            "inference_ms_per_ecg": p.meta.inference_ms_per_ecg,
        }
    metrics = read_metrics(run_dir / "report" / "metrics.json")
    board = [json_ready({"name": r.name, "kind": r.kind, "test_auc": r.test_auc,
                         "delta_vs_best_single": r.delta_vs_baseline,
                         "dev_oof_auc": r.dev_oof_auc,
                         "dev_oof_auc_label": r.dev_oof_auc_label, "n_members": r.n_members,
                         "latency_ms": r.latency_ms, "n_params": r.n_params})
             for r in metrics.leaderboard]
    parity_file = run_dir / "bundle_parity.json"
    seconds_file = run_dir / "run_seconds.json"
    return {
        "config": config, "run_dir": str(run_dir), "classes": cohort.class_names,
        "n_dev": int((split.fold >= 0).sum()), "n_test": int((split.fold == -1).sum()),
        "n_folds": int(split.n_folds), "members": members, "leaderboard": board,
        "primary": json_ready(metrics.primary),
        "stack_study": metrics.stack_study,
        "stage_seconds": json.loads(seconds_file.read_text()) if seconds_file.is_file() else None,
        "bundle_parity": json.loads(parity_file.read_text()) if parity_file.is_file() else None,
    }


def _headline(result: dict) -> dict:
    """Primary comparison as a ratio of test macro-AUCs (a / b), with its bootstrap CI."""
    prim = result.get("primary") or {}
    auc = {r["name"]: r["test_auc"]["point"] for r in result["leaderboard"]}
    a, b = prim.get("a"), prim.get("b")
    if a not in auc or b not in auc:
        return {"label": "test macro-AUC ratio (no primary comparison)", "ratio": float("nan"),
                "better": "higher"}
    return {"label": f"test macro-AUC, {a} / {b}", "ratio": auc[a] / auc[b],
            "better": "higher", "delta": prim.get("delta"), "ci": [prim.get("lo"),
                                                                  prim.get("hi")]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/ptbxl_superdiag.yaml")
    ap.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "ptbxl_superdiag")
    ap.add_argument("--summarise-only", action="store_true")
    ap.add_argument("--stage-seconds", default="",
                    help="stage=seconds,... measured outside (stages run as separate "
                         "commands, e.g. `ensembler train`, whose wall time the run's own "
                         "record shows as a cached reload)")
    ap.add_argument("--stage-seconds-note", default="",
                    help="how --stage-seconds were put together, when not simply the wall "
                         "seconds of separate commands (stored beside them)")
    ap.add_argument("--contended", action="store_true",
                    help="mark the result contended: with --summarise-only the load is "
                         "sampled now, not while the summarised stages ran")
    ap.add_argument("--cpu-seconds", type=float, default=None,
                    help="total user CPU seconds of those commands (e.g. /usr/bin/time)")
    args = ap.parse_args()
    if not os.environ.get("ENSEMBLER_PTBXL_DIR"):
        sys.exit("set ENSEMBLER_PTBXL_DIR to a PTB-XL copy")
    wall = None
    with monitor_load(interval=5.0) as mon:
        if not args.summarise_only:
            t0, c0 = time.perf_counter(), cpu_seconds()
            subprocess.run([sys.executable, "-m", "ensembler.cli", "run",
                            str(ROOT / args.config), "--run-dir", str(args.run_dir)],
                           check=True)
            wall = {"wall_s": time.perf_counter() - t0, "cpu_s": cpu_seconds() - c0}
        summary = summarise(args.config, args.run_dir)
    if args.stage_seconds:
        measured = {k: float(v) for k, v in
                    (item.split("=", 1) for item in args.stage_seconds.split(","))}
        summary["stage_seconds"] = {**(summary["stage_seconds"] or {}), **measured}
        summary["stage_seconds_note"] = args.stage_seconds_note or (
            f"{', '.join(measured)}: wall seconds of separate commands (given with "
            "--stage-seconds); the other stages from the run's last invocation")
    if args.cpu_seconds is not None:
        summary["cpu_seconds_all_commands"] = args.cpu_seconds
    threads = load_config(ROOT / args.config).training.n_jobs
    name = Path(args.config).stem
    result = make_result(
        name, quick=False, command=" ".join(["python", *sys.argv]),
        headline=_headline(summary), medians={"run": wall} if wall else {},
        load=mon.summary(threads),
        details={**summary, "load_covers": "summary only" if args.summarise_only
                 else "the whole run"})
    if args.contended:
        result["contended"] = True
        result["contended_note"] = ("declared with --contended: the summarised stages ran "
                                    "on a shared machine")
    write_result(result)
    print("| member | OOF macro-AUC (dev) | test macro-AUC | train s | params |")
    print("|---|---|---|---|---|")
    for m, r in summary["members"].items():
        print(f"| {m} | {r['oof_macro_auc']:.3f} | {r['test_macro_auc']:.3f} | "
              f"{r['train_seconds']:.0f} | {r['n_params']:,} |")


if __name__ == "__main__":
    main()
