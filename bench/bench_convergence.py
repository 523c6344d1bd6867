"""Has each member converged? Its schedule vs a 1.5x longer one, on the inner holdout only.

For each network member of a config (default: the PTB-XL CPU profile), fold ``--fold``'s
training part is split exactly as the fold trainer splits it (patient-grouped inner
early-stopping holdout, same seed). The member is trained twice on the inner-training
part, in this process: with its configured epochs E and with round(1.5 E) epochs (the
one-cycle schedule stretched, everything else equal). Both keep their best inner-validation
epoch, as the trainer does. Compared on the inner holdout only -- never on the fold's
out-of-fold rows the stack is fitted on, nor on the test set:

- inner-validation macro-AUC of each schedule and the paired patient-cluster bootstrap
  CI of the difference (longer - configured);
- "converged" when the longer schedule's gain is below that bootstrap noise: the CI of
  the difference includes 0 or the gain is smaller than the CI's half-width.

With one-cycle schedules "best epoch = last epoch" says nothing about convergence (the
learning rate anneals to zero at the end), hence this check. Needs $ENSEMBLER_PTBXL_DIR
for PTB-XL configs.

    .venv/bin/python bench/bench_convergence.py [--members plain_recipe,cnn_lstm] [--fold 0]
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
from ensembler.training.inner import inner_split
from ensembler.training.jobs import FoldJob, member_tabular
from ensembler.training.loop import fit_model, window_lengths
from ensembler.training.members import MemberSpec
from ensembler.training.metrics import macro_auc
from ensembler.training.runner import member_specs
from ensembler.training.windows import predict_windows
from ensembler.utils.seeds import derive_seed

PROFILE = ROOT / "configs" / "ptbxl_superdiag.yaml"


def train_inner(ctx: RunContext, spec: MemberSpec, fold: int, epochs: int) -> dict[str, Any]:
    """Train member ``spec`` for ``epochs`` on fold ``fold``'s inner-training part; score
    its best-epoch model on the inner holdout."""
    cohort, fold_vec = ctx.cohort, np.asarray(ctx.split.fold)
    seed = FoldJob(member=spec, fold=fold, run_seed=ctx.cfg.seed,
                   cohort_fingerprint=cohort.fingerprint,
                   split_fingerprint=ctx.split.fingerprint).seed  # the trainer's own seed
    train_part = np.flatnonzero((fold_vec >= 0) & (fold_vec != fold))
    train_idx, val_idx = inner_split(train_part, cohort.labels, cohort.patient_id,
                                     spec.training.inner_val_fraction,
                                     derive_seed(seed, "inner"))
    tab = member_tabular(cohort, spec.tabular_names)
    res = fit_model(spec, cohort.signals, cohort.labels, tab, cohort.fs, train_idx, val_idx,
                    seed=seed, epochs=epochs, device=torch.device("cpu"), log=None)
    win, stride = window_lengths(spec, cohort.fs, cohort.signals.shape[-1])
    x = res.state.transform_signals(cohort.signals[val_idx])
    t = res.state.transform_tabular(None if tab is None else tab[val_idx])
    proba = predict_windows(res.model, x, t, win, stride, spec.training.eval_aggregate,
                            device=torch.device("cpu"), autocast=False)
    return {"val_idx": val_idx, "proba": proba, "epochs": epochs,
            "best_epoch": res.best_epoch, "fit_s": res.seconds,
            "auc": macro_auc(cohort.labels[val_idx], proba)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(PROFILE))
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--members", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--factor", type=float, default=1.5, help="longer schedule / configured")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=None, help="folder for the cache")
    ap.add_argument("--out", default=None, help="result JSON (default bench/results/)")
    args = ap.parse_args()
    cfg = load_config(args.config)
    if cfg.data.source == "ptbxl" and not os.environ.get("ENSEMBLER_PTBXL_DIR"):
        sys.exit("set ENSEMBLER_PTBXL_DIR to a PTB-XL copy")
    torch.set_num_threads(args.threads)
    ctx = RunContext.create(cfg, Path(args.work or tempfile.mkdtemp(prefix="conv-")),
                            progress=False)
    specs = {s.name: s for s in member_specs(cfg, ctx.cohort)}
    names = [n for n in specs if not args.members or n in args.members.split(",")]
    per: dict[str, Any] = {}
    medians: dict[str, Any] = {}
    with monitor_load(interval=5.0) as mon:
        for name in names:
            spec = specs[name]
            e = spec.training.epochs
            a = train_inner(ctx, spec, args.fold, e)
            b = train_inner(ctx, spec, args.fold, round(args.factor * e))
            y = ctx.cohort.labels[a["val_idx"]]
            d = paired_bootstrap_delta(y, b["proba"], a["proba"],
                                       ctx.cohort.patient_id[a["val_idx"]], n_boot=1000, seed=0)
            half = (d.hi - d.lo) / 2
            per[name] = {"epochs": e, "epochs_longer": b["epochs"],
                         "inner_auc": a["auc"], "inner_auc_longer": b["auc"],
                         "best_epoch": a["best_epoch"], "best_epoch_longer": b["best_epoch"],
                         "fit_s": a["fit_s"], "fit_s_longer": b["fit_s"],
                         "delta": d.delta, "delta_ci": [d.lo, d.hi], "noise_half_width": half,
                         "n_inner_val": len(a["val_idx"]),
                         "converged": bool(d.lo <= 0.0 or d.delta < half)}
            medians[f"{name}/E"] = {"wall_s": a["fit_s"]}
            medians[f"{name}/1.5E"] = {"wall_s": b["fit_s"]}
            r = per[name]
            print(f"{name:14s} E={e:3d} inner AUC {r['inner_auc']:.4f}  {b['epochs']:3d} ep "
                  f"{r['inner_auc_longer']:.4f}  delta {r['delta']:+.4f} "
                  f"[{d.lo:+.4f}, {d.hi:+.4f}]  converged={r['converged']}", flush=True)
    n_conv = sum(r["converged"] for r in per.values())
    result = make_result(
        "convergence", quick=False, command=" ".join(["python", *sys.argv]),
        headline={"label": f"members converged (a {args.factor}x longer schedule gains less "
                           "than the inner-holdout bootstrap noise) / members checked",
                  "ratio": n_conv / max(len(per), 1), "better": "higher", "target": 1.0},
        medians=medians, load=mon.summary(args.threads),
        details={"config": str(args.config), "fold": args.fold, "factor": args.factor,
                 "members": per})
    write_result(result, Path(args.out) if args.out else None)


if __name__ == "__main__":
    main()
