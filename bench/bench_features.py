"""Cost and plausibility of the ``ecg_clinical`` feature set, per ECG on one core.

- synthetic ECGs (the built-in generator, 10 s) at 100 and 500 Hz: process CPU ms per ECG
  and the measured QRS/QT/PR/HR against the values fixed by the generator's parameters;
- PTB-XL NORM records (10 s, 100 Hz; when $ENSEMBLER_PTBXL_DIR is set): CPU ms per ECG and
  the distribution of the measured intervals.

CPU time (``time.process_time``) is the figure to read on a shared machine. Headline: the
median CPU ms per 100 Hz ECG as a fraction of the 50 ms budget (lower is better; PTB-XL
records when available, else synthetic). Writes ``bench/results/features.json`` (schema in
bench/README.md).

    .venv/bin/python bench/bench_features.py [--quick] [--n 40] [--ptbxl-n 100]
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from pathlib import Path
from typing import Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import numpy as np
import pandas as pd
from _timing import make_result, monitor_load, write_result

from ensembler.data.cohort import STANDARD_LEADS
from ensembler.data.leads import map_leads
from ensembler.data.synth.ecg_model import ECGParams, render
from ensembler.data.wfdb_io import read_record
from ensembler.features import create_feature_set

BUDGET_MS = 50.0
COLUMNS = ["heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_bazett_ms", "qrs_axis_deg", "sqi"]


def _timed_rows(signals: list[np.ndarray], fs: float) -> tuple[list[dict[str, float]], list[float]]:
    fset = create_feature_set("ecg_clinical")
    names = fset.columns(STANDARD_LEADS)
    fset.compute(signals[0], fs, STANDARD_LEADS)  # warm-up (imports neurokit2)
    rows, cpu = [], []
    for sig in signals:
        t0 = time.process_time()
        values = fset.compute(sig, fs, STANDARD_LEADS)
        cpu.append(1000 * (time.process_time() - t0))
        rows.append(dict(zip(names, values.tolist(), strict=True)))
    return rows, cpu


def synthetic(n: int, fs: float) -> dict[str, Any]:
    """Errors against generator truth (see tests/features/test_clinical.py for the rule)."""
    rng = np.random.default_rng(0)
    params = [ECGParams(heart_rate=float(rng.uniform(50, 100)),
                        qt_factor=float(rng.uniform(0.9, 1.1)),
                        axis_deg=float(rng.uniform(-20, 80))) for _ in range(n)]  # fmt: skip
    rows, cpu = _timed_rows([render(p, fs, 10.0, rng).T for p in params], fs)
    err: dict[str, list[float]] = {"heart_rate_bpm": [], "qrs_ms": [], "qt_ms": [], "pr_ms": []}
    for p, r in zip(params, rows, strict=True):
        t_end = 0.40 * np.sqrt(60.0 / p.heart_rate) * p.qt_factor - 0.10 + 0.11
        truth = {"heart_rate_bpm": p.heart_rate, "qrs_ms": 113.0,
                 "qt_ms": 1000 * (t_end + 0.05), "pr_ms": 154.0}  # fmt: skip
        for k, v in truth.items():
            err[k].append(r[k] - v)
    return {"n": n, "fs": fs, "cpu_ms_per_ecg_median": float(np.median(cpu)),
            "cpu_ms_per_ecg_p95": float(np.percentile(cpu, 95)),
            "error_median": {k: float(np.nanmedian(v)) for k, v in err.items()},
            "abs_error_p95": {k: float(np.nanpercentile(np.abs(v), 95)) for k, v in err.items()},
            "not_measured": {k: int(np.isnan(v).sum()) for k, v in err.items()}}  # fmt: skip


def ptbxl_norm(root: Path, n: int) -> dict[str, Any]:
    db = pd.read_csv(root / "ptbxl_database.csv")
    codes = db["scp_codes"].map(ast.literal_eval)
    norm = db[codes.map(lambda c: c.get("NORM") == 100.0 and "SR" in c and len(c) <= 3)]
    signals, fs = [], 100.0
    for rel in norm["filename_lr"]:
        if (root / f"{rel}.hea").exists():
            sig, names, fs = read_record(root / rel)
            signals.append(map_leads(sig, names, STANDARD_LEADS).T)
        if len(signals) == n:
            break
    rows, cpu = _timed_rows(signals, fs)
    frame = pd.DataFrame(rows)[COLUMNS]
    quantiles = frame.quantile([0.05, 0.5, 0.95])
    return {"n": len(rows), "fs": fs, "cpu_ms_per_ecg_median": float(np.median(cpu)),
            "cpu_ms_per_ecg_p95": float(np.percentile(cpu, 95)),
            "quantiles_5_50_95": {c: [round(float(v), 1) for v in quantiles[c]] for c in COLUMNS},
            "not_measured": {c: int(frame[c].isna().sum()) for c in COLUMNS}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 synthetic, 20 PTB-XL ECGs")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--ptbxl-n", type=int, default=100)
    args = parser.parse_args()
    n, n_ptbxl = (10, 20) if args.quick else (args.n, args.ptbxl_n)
    root = os.environ.get("ENSEMBLER_PTBXL_DIR")
    with monitor_load() as mon:
        details: dict[str, Any] = {"budget_ms_per_ecg": BUDGET_MS,
                                   "synthetic": [synthetic(n, 100.0), synthetic(n, 500.0)],
                                   "ptbxl_norm": ptbxl_norm(Path(root), n_ptbxl) if root else None}
    ref = details["ptbxl_norm"] or details["synthetic"][0]
    headline = {"label": "median CPU ms per 100 Hz ECG / 50 ms budget "
                         + ("(PTB-XL NORM)" if details["ptbxl_norm"] else "(synthetic)"),
                "ratio": ref["cpu_ms_per_ecg_median"] / BUDGET_MS, "better": "lower",
                "target": 1.0}  # fmt: skip
    result = make_result("features", quick=args.quick, command=" ".join(["python", *sys.argv]),
                         headline=headline, medians={}, load=mon.summary(1), details=details)
    write_result(result)


if __name__ == "__main__":
    main()
