"""Benchmark: a joint stacking study on level-1 data shaped like PTB-XL superdiagnostic.

20,000 development rows x 5 members x 5 classes (synthetic, patient-grouped, 8
folds as PTB-XL's shared copy), 300 trials by default, folds in parallel over
``--n-jobs`` threads, one LightGBM thread per fit. Prints and writes
bench/results/stacking.json (wall and CPU time, trials/s, machine load).

    .venv/bin/python bench/bench_stacking.py [--trials 300] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import optuna
from scipy.special import expit

from stacking import Level1Data, fit_stack, macro_auc, named_stacks, tune_stack


def make_data(n_dev: int = 20_000, n_test: int = 2_000, n_members: int = 5, n_classes: int = 5,
              k: int = 8, seed: int = 0) -> tuple[Level1Data, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = n_dev + n_test
    latent = rng.normal(size=(n, n_classes, n_members))  # each member sees its own part
    truth = latent.sum(axis=2) / np.sqrt(n_members)
    y = (rng.random((n, n_classes)) < expit(2.0 * truth - 1.0)).astype(np.int64)
    oof, by_fold = {}, {}
    for m in range(n_members):
        view = 0.8 * latent[:, :, m] + 0.6 * truth + 0.5 * rng.normal(size=(n, n_classes))
        oof[f"m{m}"] = expit(view[:n_dev])
        by_fold[f"m{m}"] = np.stack([expit(view[n_dev:] + 0.1 * rng.normal(size=(n_test,
                                                                                n_classes)))
                                     for _ in range(k)])
    groups = np.repeat(np.arange(n_dev), 2)[:n_dev]
    folds = rng.permutation(np.arange(groups.max() + 1) % k)[groups]
    age = rng.normal(60, 15, size=n)
    data = Level1Data(members=list(oof), class_names=["NORM", "MI", "STTC", "CD", "HYP"],
                      oof=oof, test_by_fold=by_fold, y=y[:n_dev], groups=groups, folds=folds,
                      tabular_dev=age[:n_dev, None], tabular_test=age[n_dev:, None],
                      tabular_names=["age"],
                      member_cost_ms={f"m{m}": 2.0 + 3.0 * m for m in range(n_members)})
    return data, y[n_dev:]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", default="bench/results/stacking.json")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data, y_test = make_data()
    runs = []
    for r in range(args.repeats):
        load0 = os.getloadavg()
        w0, c0 = time.perf_counter(), time.process_time()
        res = tune_stack(data, n_trials=args.trials, seed=r, nested_cv=False,
                         passthrough=["age"], n_jobs=args.n_jobs)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        by_learner = (res.trials.groupby("params_learner")["state"].value_counts()
                      .unstack(fill_value=0).to_dict(orient="index"))
        dur = res.trials.groupby("params_learner")["duration"].median().dt.total_seconds()
        runs.append({"wall_s": wall, "cpu_s": cpu, "trials_per_s": args.trials / wall,
                     "n_complete": res.n_complete, "n_pruned": res.n_pruned,
                     "best_value": res.best_value, "best_spec": res.best_spec.to_dict(),
                     "trials_by_learner": by_learner,
                     "median_trial_s_by_learner": dur.round(3).to_dict(),
                     "loadavg_before": load0, "loadavg_after": os.getloadavg()})
        print(f"repeat {r}: {wall:.1f} s wall, {cpu:.1f} s CPU, {args.trials / wall:.2f} trials/s, "
              f"complete {res.n_complete}, pruned {res.n_pruned}, best {res.best_value:.4f} "
              f"{res.best_spec.label()}; load {os.getloadavg()}")
    w0 = time.perf_counter()
    tuned = fit_stack(data, res.best_spec)
    fit_s = time.perf_counter() - w0
    single = fit_stack(data, named_stacks(data)["best_single"])
    comparison = {"tuned_test_auc": macro_auc(y_test, tuned.predict_test(data.test_by_fold,
                                                                       data.tabular_test)),
                  "best_single_test_auc": macro_auc(y_test, single.predict_test(
                      data.test_by_fold)),
                  "final_fit_stack_s": fit_s}
    print(comparison)
    out = {"benchmark": "joint stacking study", "shape": {"n_dev": data.n_dev, "members": 5,
                                                         "classes": 5, "folds": data.n_folds},
           "trials": args.trials, "n_jobs": args.n_jobs, "cpu_count": os.cpu_count(),
           "platform": platform.platform(),
           "median_wall_s": float(np.median([r["wall_s"] for r in runs])),
           "median_cpu_s": float(np.median([r["cpu_s"] for r in runs])),
           "median_trials_per_s": float(np.median([r["trials_per_s"] for r in runs])),
           "runs": runs, **comparison}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
