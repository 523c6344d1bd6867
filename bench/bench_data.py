"""Data-layer benchmarks: synthesis speed, PTB-XL cache build, cache reads vs wfdb.rdsamp.

Prints results and writes bench/results/data.json. Every figure is the median
over repeats, with CPU time (this process; joblib workers are not included, so
builds run with n_jobs=1) next to wall time, and os.getloadavg() at the time.
Needs $ENSEMBLER_PTBXL_DIR for the PTB-XL parts (skipped otherwise).

    .venv/bin/python bench/bench_data.py [--repeats 3] [--read-sample 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import wfdb
from _timing import timed

from ensembler.config import SyntheticConfig, config_from_dict
from ensembler.data import load_cohort
from ensembler.data.synth.writer import write_synthetic
from ensembler.splits import find_duplicate_recordings, make_split

OUT = Path(__file__).parent / "results" / "data.json"




def bench_synth(repeats: int, tmp: Path) -> dict[str, Any]:
    cfg = SyntheticConfig(n_patients=333, ecgs_per_patient=(3, 3))  # 999 ECGs, 10 s, 100 Hz
    counter = iter(range(1000))
    res = timed(lambda: write_synthetic(cfg, 0, tmp / f"syn{next(counter)}"), repeats)
    res["n_ecgs"] = 999
    res["ecgs_per_s"] = 999 / res["wall_s_median"]
    return res


def bench_ptbxl(repeats: int, read_sample: int, tmp: Path) -> dict[str, Any]:
    cfg = config_from_dict({"data": {"source": "ptbxl", "preprocessing": {"n_jobs": 1}}})
    roots: list[Path] = []

    def build() -> None:
        if roots:
            shutil.rmtree(roots[-1])  # each repeat builds from scratch; the last one is kept
        roots.append(tmp / f"cache{len(roots)}")
        load_cohort(cfg, roots[-1], progress=False)

    res: dict[str, Any] = {"build": timed(build, repeats)}
    keep = roots[-1]
    cohort = load_cohort(cfg, keep, progress=False)
    n = len(cohort)
    res["build"]["n_records"] = n
    res["build"]["records_per_s"] = n / res["build"]["wall_s_median"]
    res["reuse_second_load"] = timed(lambda: load_cohort(cfg, keep, progress=False), repeats)

    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(n, size=min(read_sample, n), replace=False))
    meta = __import__("pandas").read_csv(keep / cohort.fingerprint / "metadata.csv")
    paths = meta["path"].to_numpy()[idx]
    order = rng.permutation(idx)

    sig = cohort.signals  # the read-only memmap training reads from (opened once)

    def epoch_cache() -> None:
        for s in range(0, len(order), 64):
            batch = np.asarray(sig[np.sort(order[s:s + 64])], dtype=np.float32)
            assert batch.shape[0] > 0

    def epoch_rdsamp() -> None:
        for p in paths:
            wfdb.rdsamp(str(p))

    res["epoch_cache"] = timed(epoch_cache, repeats)
    res["epoch_rdsamp"] = timed(epoch_rdsamp, repeats)
    res["epoch_records"] = len(idx)
    res["cache_over_rdsamp_speedup"] = (res["epoch_rdsamp"]["wall_s_median"]
                                        / res["epoch_cache"]["wall_s_median"])
    split_cfg = config_from_dict({"split": {"test": "predefined"}}).split
    sp = make_split(cohort, split_cfg, 0)
    pairs: list[Any] = []
    res["duplicates"] = timed(
        lambda: pairs.__setitem__(slice(None), find_duplicate_recordings(cohort, sp.fold)), 1)
    res["duplicates"]["pairs"] = [(p.record_i, p.record_j, p.kind, round(p.corr, 4))
                                  for p in pairs]
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--read-sample", type=int, default=2000)
    args = ap.parse_args()
    out: dict[str, Any] = {"machine": {"platform": platform.platform(),
                                       "cpu_count": os.cpu_count()}}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        out["synth_1000_ecgs"] = bench_synth(args.repeats, tmp)
        print(f"synth: {out['synth_1000_ecgs']['ecgs_per_s']:.0f} ECGs/s "
              f"({out['synth_1000_ecgs']['wall_s_median']:.2f} s wall, "
              f"{out['synth_1000_ecgs']['cpu_s_median']:.2f} s CPU for 999 ECGs)")
        if os.environ.get("ENSEMBLER_PTBXL_DIR"):
            r = bench_ptbxl(args.repeats, args.read_sample, tmp)
            out["ptbxl"] = r
            b = r["build"]
            print(f"PTB-XL cache build: {b['n_records']} records, {b['records_per_s']:.0f} "
                  f"records/s ({b['wall_s_median']:.1f} s wall, {b['cpu_s_median']:.1f} s CPU)")
            print(f"second load (reuse): {r['reuse_second_load']['wall_s_median']:.2f} s")
            print(f"epoch of {r['epoch_records']} records: cache "
                  f"{r['epoch_cache']['wall_s_median']:.3f} s, rdsamp "
                  f"{r['epoch_rdsamp']['wall_s_median']:.2f} s -> "
                  f"{r['cache_over_rdsamp_speedup']:.0f}x")
            print(f"duplicate check: {len(r['duplicates']['pairs'])} pairs in "
                  f"{r['duplicates']['wall_s_median']:.1f} s")
        else:
            print("ENSEMBLER_PTBXL_DIR unset: PTB-XL benchmarks skipped")
    out["load1_end"] = os.getloadavg()[0]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
