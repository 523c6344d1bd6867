"""Data-layer benchmarks: synthesis speed, PTB-XL cache build, cache reads vs wfdb.rdsamp.

Prints results and writes bench/results/data.json. The headline is the ratio of one
training epoch's reads from WFDB files (``wfdb.rdsamp``) to the same reads from the
preprocessed cache, both timed interleaved in this process; synthesis and cache build
are context (medians, CPU time of this process and its children, builds with
n_jobs=1). Needs $ENSEMBLER_PTBXL_DIR for the PTB-XL parts (skipped otherwise).

    .venv/bin/python bench/bench_data.py [--quick] [--repeats 3] [--read-sample 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import numpy as np
import wfdb
from _timing import interleaved, make_result, monitor_load, timed, write_result

from ensembler.config import SyntheticConfig, config_from_dict
from ensembler.data import load_cohort
from ensembler.data.synth.writer import write_synthetic
from ensembler.splits import find_duplicate_recordings, make_split


def bench_synth(repeats: int, tmp: Path) -> dict[str, Any]:
    cfg = SyntheticConfig(n_patients=333, ecgs_per_patient=(3, 3))  # 999 ECGs, 10 s, 100 Hz
    counter = iter(range(1000))
    res = timed(lambda: write_synthetic(cfg, 0, tmp / f"syn{next(counter)}"), repeats)
    res["n_ecgs"] = 999
    res["ecgs_per_s"] = 999 / res["wall_s"]
    return res


def bench_ptbxl(repeats: int, read_sample: int, tmp: Path, read_repeats: int
                ) -> dict[str, Any]:
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
    res["build"]["records_per_s"] = n / res["build"]["wall_s"]
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

    med = interleaved({"epoch_cache": epoch_cache, "epoch_rdsamp": epoch_rdsamp}, read_repeats)
    res.update(med)
    res["epoch_records"] = len(idx)
    res["cache_over_rdsamp_speedup"] = (res["epoch_rdsamp"]["wall_s"]
                                        / res["epoch_cache"]["wall_s"])
    split_cfg = config_from_dict({"split": {"test": "predefined"}}).split
    sp = make_split(cohort, split_cfg, 0)
    pairs: list[Any] = []
    res["duplicates"] = timed(
        lambda: pairs.__setitem__(slice(None), find_duplicate_recordings(cohort, sp.fold)), 1)
    res["duplicates"]["pairs"] = [(p.record_i, p.record_j, p.kind, round(p.corr, 4))
                                  for p in pairs]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--read-sample", type=int, default=2000)
    ap.add_argument("--quick", action="store_true",
                    help="one cache build, 3 read repeats of 500 records")
    args = ap.parse_args()
    build_repeats = args.repeats
    if args.quick:
        build_repeats, args.repeats, args.read_sample = 1, 3, 500
    details: dict[str, Any] = {}
    medians: dict[str, Any] = {}
    headline = {"label": "epoch read time, wfdb.rdsamp / preprocessed cache",
                "ratio": float("nan"), "better": "higher"}
    with monitor_load() as mon, tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        synth = bench_synth(build_repeats, tmp)
        details["synth_1000_ecgs"] = synth
        print(f"synth: {synth['ecgs_per_s']:.0f} ECGs/s ({synth['wall_s']:.2f} s wall, "
              f"{synth['cpu_s']:.2f} s CPU for 999 ECGs)")
        if os.environ.get("ENSEMBLER_PTBXL_DIR"):
            r = bench_ptbxl(build_repeats, args.read_sample, tmp, args.repeats)
            details["ptbxl"] = r
            medians = {"epoch_cache": r["epoch_cache"], "epoch_rdsamp": r["epoch_rdsamp"]}
            headline["ratio"] = r["cache_over_rdsamp_speedup"]
            b = r["build"]
            print(f"PTB-XL cache build: {b['n_records']} records, {b['records_per_s']:.0f} "
                  f"records/s ({b['wall_s']:.1f} s wall, {b['cpu_s']:.1f} s CPU)")
            print(f"epoch of {r['epoch_records']} records: cache "
                  f"{r['epoch_cache']['wall_s']:.3f} s, rdsamp "
                  f"{r['epoch_rdsamp']['wall_s']:.2f} s")
        else:
            headline["note"] = "ENSEMBLER_PTBXL_DIR unset: PTB-XL reads not measured"
            print("ENSEMBLER_PTBXL_DIR unset: PTB-XL benchmarks skipped")
    result = make_result("data", quick=args.quick, command=" ".join(["python", *sys.argv]),
                         headline=headline, medians=medians, load=mon.summary(1),
                         details=details)
    write_result(result)


if __name__ == "__main__":
    main()
