"""Prediction sets and explanations of a finished run: coverage, abstention, per-lead importance.

Run: ``.venv/bin/python bench/bench_explain_conformal.py RUN_DIR [--bundle DIR] [--class MI]``;
writes ``bench/results/explain_conformal_<run name>.json`` with

- empirical test coverage of the per-class Mondrian conformal sets vs 1 - alpha for alpha
  in {0.05, 0.1, 0.2}, for the stack the bundle ships (calibrated on its meta-level OOF,
  as the bundle is) and the best single model (calibrated on its own development OOF the same
  way), per class, with a binomial 95% tolerance around 1 - alpha (n = test ECGs) and a
  verdict: inside, above (conservative) or below; the patient-bootstrap CI beside it;
- abstention (some class's set not a singleton) of best single vs stack at alpha = 0.1,
  and the error among kept ECGs (measured, not guaranteed); the headline is the stack's
  abstention over the best single's;
- the per-lead importance table of one class (``--class``; default the positive class of
  a binary task) over ``--sample`` test ECGs drawn with the run seed, for the stack and
  every member (as in the report's attribution section);
- attribution time per ECG per member of the bundle on ``--threads`` (2) torch threads:
  Integrated Gradients (32 steps, as ``ensembler explain``), gradient x input, and for
  feature members feature computation + pred_contrib.

The bundle's own conformal quantiles are compared with the ones recomputed here (same
data, same alpha). Nothing is tuned; the test set is read as the report reads it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import numpy as np
from _timing import RESULTS, LoadMonitor, make_result, timed, write_result

ALPHAS = (0.05, 0.1, 0.2)


def _binomial(n: int, alpha: float) -> tuple[float, float]:
    """Central 95% range of the coverage of n exchangeable ECGs at exactly 1 - alpha."""
    from scipy.stats import binom

    return (float(binom.ppf(0.025, n, 1 - alpha) / n), float(binom.ppf(0.975, n, 1 - alpha) / n))


def _verdict(cov: float, lo: float, hi: float) -> str:
    return "inside" if lo <= cov <= hi else ("above (conservative)" if cov > hi else "below")


def coverage_rows(name: str, oof: np.ndarray, p_test: np.ndarray, y_dev: np.ndarray,
                  g_dev: np.ndarray, y_test: np.ndarray, g_test: np.ndarray,
                  classes: list[str], seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per alpha and class: coverage vs target; and the selective figures per alpha."""
    from ensembler.conformal import calibrate_conformal, conformal_summary, prediction_sets

    rows, selective = [], {}
    for a in ALPHAS:
        calib = calibrate_conformal(np.clip(oof, 0, 1), y_dev, g_dev, a, classes)
        sets = prediction_sets(calib, np.clip(p_test, 0, 1))
        summ = conformal_summary(sets, y_test, g_test, a, classes, 0.05, 1000, seed)
        lo, hi = _binomial(len(y_test), a)
        for c in summ.classes:
            rows.append({"model": name, "alpha": a, "class": c.name, "target": 1 - a,
                         "n": len(y_test), "coverage": c.coverage.point,
                         "bootstrap_ci": [c.coverage.lo, c.coverage.hi],
                         "binomial_95": [lo, hi], "verdict": _verdict(c.coverage.point, lo, hi),
                         "coverage_pos": c.coverage_pos, "coverage_neg": c.coverage_neg})
        selective[f"{a:g}"] = {"abstention": summ.abstention, "kept": summ.kept.point,
                               "kept_ci": [summ.kept.lo, summ.kept.hi],
                               "error_kept": summ.error_kept.point,
                               "error_kept_ci": [summ.error_kept.lo, summ.error_kept.hi],
                               "n_kept": summ.n_kept}
    return rows, selective


def _class(cohort: Any, name: str | None) -> int:
    names = list(cohort.class_names)
    if name is None and len(names) == 1:
        return 0
    if name not in names:
        sys.exit(f"--class: expected one of {names}, got {name!r}")
    return names.index(name)


def attribution_times(bundle: Any, x: np.ndarray, tab: np.ndarray | None, cls: int,
                      n_ig: int, n_gxi: int, repeats: int) -> dict[str, dict[str, Any]]:
    """Seconds per ECG per member: IG (32 steps) on ``n_ig`` ECGs, gradient x input on
    ``n_gxi``; feature members: features + pred_contrib on ``n_gxi``."""
    from ensembler.bundle.members import BundleMember
    from ensembler.explain import feature_attribution, member_attribution

    out: dict[str, dict[str, Any]] = {}
    for m in bundle.members:
        t_m = bundle._columns(tab, m.tabular_names, len(x))
        if isinstance(m, BundleMember):
            cases = {"ig": (n_ig, lambda m=m, t=t_m: member_attribution(
                m, x[:n_ig], None if t is None else t[:n_ig], cls, "ig", 32)),
                     "gxi": (n_gxi, lambda m=m, t=t_m: member_attribution(
                         m, x[:n_gxi], None if t is None else t[:n_gxi], cls, "gxi"))}
        else:
            cases = {"pred_contrib": (n_gxi, lambda m=m, t=t_m: feature_attribution(
                m, x[:n_gxi], [None if t is None else t[:n_gxi]] * len(m.models), cls))}
        for kind, (n, fn) in cases.items():
            r = timed(fn, repeats)
            out[f"{kind}/{m.name}"] = {**{k: r[k] for k in ("wall_s", "cpu_s", "repeats")},
                                       "n_ecgs": n, "wall_s_per_ecg": r["wall_s"] / n,
                                       "cpu_s_per_ecg": r["cpu_s"] / n}
            print(f"{kind:>12} {m.name:<20} {r['wall_s'] / n:8.3f} s/ECG (wall)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--bundle", type=Path, default=None, help="default: RUN_DIR/bundle")
    ap.add_argument("--class", dest="cls", default=None, help="class of the per-lead table")
    ap.add_argument("--sample", type=int, default=200, help="ECGs of the per-lead table")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ig-ecgs", type=int, default=2)
    ap.add_argument("--gxi-ecgs", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 timing repeat, 50 ECGs in the table")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    mon = LoadMonitor().start()
    details, medians = measure(args)
    mon.stop()
    sel = details["abstention_alpha_0.1"]
    ratio = sel["stack"]["abstention"] / sel["best_single"]["abstention"] \
        if sel["best_single"]["abstention"] > 0 else float("nan")
    name = f"explain_conformal_{details['run']}"
    result = make_result(
        name, headline={"label": "abstention at alpha 0.1, stack / best single", "ratio": ratio,
                        "better": "lower"},
        medians=medians, load=mon.summary(args.threads), quick=args.quick,
        command="python bench/bench_explain_conformal.py " + " ".join(sys.argv[1:]),
        details=details)
    write_result(result, RESULTS / f"{name}.json")


def measure(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from ensembler.bundle import load_bundle
    from ensembler.bundle.conformal_io import bundle_conformal
    from ensembler.bundle.run_inputs import resolve_run
    from ensembler.conformal import calibrate_conformal
    from ensembler.explain.section import SectionInputs, class_summary, sample_rows
    from ensembler.pipeline.context import RunContext
    from ensembler.pipeline.stack import level1_data, load_fitted, load_member_predictions

    run_dir, cfg = resolve_run(args.run_dir)
    ctx = RunContext(cfg=cfg, run_dir=run_dir, progress=False)
    cohort, fold = ctx.cohort, ctx.split.fold
    preds = load_member_predictions(ctx)
    data = level1_data(ctx, preds)
    test = np.flatnonzero(fold == -1)
    y_test, g_test = cohort.labels[test].astype(np.int64), cohort.patient_id[test]
    bundle = load_bundle(args.bundle or run_dir / "bundle")
    stack_name = str(bundle.manifest["stack"]["name"])  # the shipped stack (default: PRIMARY)
    fits = {"stack": load_fitted(run_dir, stack_name),
            "best_single": load_fitted(run_dir, "best_single")}
    classes = list(cohort.class_names)
    coverage, selective = [], {}
    for key, f in fits.items():
        tab = None
        if f.tabular_names:
            tab = cohort.tabular[test][:, [cohort.tabular_names.index(t)
                                           for t in f.tabular_names]].astype(np.float64)
        p_test = f.predict_test({m: data.test_by_fold[m] for m in f.spec.members}, tab)
        rows, sel = coverage_rows(key, f.oof_, p_test, data.y, data.groups, y_test, g_test,
                                  classes, cfg.seed)
        coverage += rows
        selective[key] = sel
    shipped = bundle_conformal(bundle.manifest)
    match = None
    if shipped is not None:
        mine = calibrate_conformal(np.clip(fits["stack"].oof_, 0, 1), data.y, data.groups,
                                   shipped.alpha, classes)
        match = mine.to_dict()["classes"] == shipped.to_dict()["classes"]
    cls = _class(cohort, args.cls)
    inp, skipped = SectionInputs.from_run(run_dir, cohort, preds)
    n_sample = 50 if args.quick else args.sample
    summ = class_summary(inp, fits["stack"], sample_rows(len(test), n_sample, cfg.seed), cls,
                         classes[cls])
    x = np.asarray(cohort.signals[test[:max(args.ig_ecgs, args.gxi_ecgs)]], np.float32)
    times = attribution_times(bundle, x, _bundle_tab(bundle, cohort, test[:len(x)]), cls,
                              args.ig_ecgs, args.gxi_ecgs, 1 if args.quick else args.repeats)
    details = {
        "run": cfg.name, "run_dir": str(run_dir), "n_test": len(test),
        "n_test_patients": len(np.unique(g_test)), "classes": classes,
        "stack": stack_name, "best_single_member": fits["best_single"].spec.members[0],
        "conformal": {"library": "crepes", "calibration": "each model on its own development "
                      "out-of-fold probabilities (the stack: meta-level OOF)",
                      "tolerance": "binomial 95% range of the coverage of n test ECGs at "
                                   "1 - alpha (ECGs treated as independent; patients with "
                                   "several ECGs make the true spread somewhat wider)",
                      "bundle_quantiles_match": match,
                      "bundle_alpha": None if shipped is None else shipped.alpha},
        "coverage": coverage,
        "abstention_alpha_0.1": {k: v["0.1"] for k, v in selective.items()},
        "selective": selective,
        "per_lead": {"class": classes[cls], "n_sample": n_sample, "lead_names":
                     list(cohort.lead_names), "rows": summ.rows, "outside_leads": summ.outside,
                     "skipped_members": skipped},
        "attribution_seconds_per_ecg": {k: v["wall_s_per_ecg"] for k, v in times.items()},
        "threads": args.threads,
    }
    return details, times


def _bundle_tab(bundle: Any, cohort: Any, rows: np.ndarray) -> np.ndarray | None:
    """The bundle's tabular inputs of cohort ``rows`` (its column order; NaN when absent)."""
    names = bundle.tabular_names
    if not names:
        return None
    out = np.full((len(rows), len(names)), np.nan, np.float32)
    for j, n in enumerate(names):
        if n in cohort.tabular_names:
            out[:, j] = cohort.tabular[rows, cohort.tabular_names.index(n)]
    return out


if __name__ == "__main__":
    main()
