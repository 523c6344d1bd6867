"""Benchmark: a joint stacking study on level-1 data shaped like PTB-XL superdiagnostic.

20,000 development rows x 5 members x 5 classes (synthetic, patient-grouped, 8
folds as PTB-XL's shared copy), 300 trials by default, one LightGBM thread per fit.
The same study runs with folds on 1 thread and in parallel over ``--n-jobs`` threads,
interleaved; the headline is the parallel speed-up. Prints and writes
bench/results/stacking.json (wall and CPU time, trials/s, load during the run).

    .venv/bin/python bench/bench_stacking.py [--quick] [--trials 300] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import numpy as np
import optuna
from _timing import interleaved, make_result, monitor_load, ratio, write_result
from scipy.special import expit

from stacking import Level1Data, StackSpec, fit_stack, macro_auc, named_stacks, tune_stack


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


def study_case(data: Level1Data, trials: int, n_jobs: int, log: list[dict[str, Any]]
               ) -> Callable[[], None]:
    def run() -> None:
        # the same seed on both sides: the same study (trials, folds, fits), so the ratio is
        # the parallel speed-up of identical work
        res = tune_stack(data, n_trials=trials, seed=0, nested_cv=False,
                         passthrough=["age"], n_jobs=n_jobs)
        dur = res.trials.groupby("params_learner")["duration"].median().dt.total_seconds()
        log.append({"n_jobs": n_jobs, "n_complete": res.n_complete, "n_pruned": res.n_pruned,
                    "best_value": res.best_value, "best_spec": res.best_spec.to_dict(),
                    "median_trial_s_by_learner": dur.round(3).to_dict()})

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="40 trials, 1 repeat per side")
    args = ap.parse_args()
    if args.quick:
        args.trials, args.repeats = 40, 1
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data, y_test = make_data()
    log: list[dict[str, Any]] = []
    with monitor_load() as mon:
        med = interleaved({"n_jobs_1": study_case(data, args.trials, 1, log),
                           f"n_jobs_{args.n_jobs}": study_case(data, args.trials, args.n_jobs,
                                                                log)},
                          args.repeats, warmup=0)
        best = max(log, key=lambda r: r["best_value"])
        tuned = fit_stack(data, StackSpec.from_dict(best["best_spec"]))
        single = fit_stack(data, named_stacks(data)["best_single"])
    for name, m in med.items():
        m["trials_per_s"] = args.trials / m["wall_s"]
        print(f"{name}: {m['wall_s']:.1f} s wall, {m['cpu_s']:.1f} s CPU, "
              f"{m['trials_per_s']:.2f} trials/s")
    comparison = {"tuned_test_auc": macro_auc(y_test, tuned.predict_test(data.test_by_fold,
                                                                       data.tabular_test)),
                  "best_single_test_auc": macro_auc(y_test, single.predict_test(
                      data.test_by_fold))}
    print(comparison)
    result = make_result(
        "stacking", quick=args.quick, command=" ".join(["python", *sys.argv]),
        headline={"label": f"joint study wall time, n_jobs 1 / n_jobs {args.n_jobs}",
                  "ratio": ratio(med, "n_jobs_1", f"n_jobs_{args.n_jobs}"),
                  "better": "higher"},
        medians=med, load=mon.summary(args.n_jobs),
        details={"shape": {"n_dev": data.n_dev, "members": 5, "classes": 5,
                           "folds": data.n_folds}, "trials": args.trials, "runs": log,
                 **comparison})
    write_result(result)


if __name__ == "__main__":
    main()
