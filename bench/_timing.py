"""Timing shared by every benchmark: interleaved repeats, medians, ratios, machine load.

A benchmark compares cases side by side in ONE process: each repeat runs every case
once, in turn (A, B, A, B, ...), so a change of machine load hits all cases alike; the
headline is a ratio of medians and absolute times are context only. CPU time counts the
process and its waited-for children. The 1-minute load average is sampled before, in
a background thread during, and after the run; a result is ``contended`` when the load
from other work exceeded half the cores (see :func:`is_contended`). The JSON schema of
``bench/results/*.json`` is documented in ``bench/README.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ensembler.utils.threads import disable_spinning

# OpenMP threads sleep between parallel regions, as under the CLI; must run before torch
# loads, so every benchmark imports this module before torch (ruff: force-to-top)
disable_spinning()

SCHEMA = 1
ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its waited-for children.

    ``time.process_time`` and ``getrusage`` (microseconds), not ``os.times`` (clock ticks
    of 10 ms, too coarse for millisecond cases).
    """
    try:
        import resource
    except ImportError:  # not on Unix: this process only
        return time.process_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def _busy_jiffies() -> float | None:
    """Busy CPU seconds of the whole machine since boot from /proc/stat (None off Linux)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    vals = [float(v) for v in fields]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0.0)  # idle + iowait
    return (sum(vals[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class LoadMonitor:
    """Samples ``os.getloadavg()[0]`` every ``interval`` s in a background thread.

    Also measures the cores that OTHER processes kept busy during the run: machine
    busy time from /proc/stat minus this process's own CPU time, over wall time.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.before: list[float] = []
        self.after: list[float] = []
        self.samples: list[float] = []
        self.other_cores: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = self._c0 = 0.0
        self._b0: float | None = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(os.getloadavg()[0])

    def start(self) -> LoadMonitor:
        self.before = list(os.getloadavg())
        self._t0, self._c0, self._b0 = time.perf_counter(), cpu_seconds(), _busy_jiffies()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.after = list(os.getloadavg())
        b1 = _busy_jiffies()
        wall = time.perf_counter() - self._t0
        if self._b0 is not None and b1 is not None and wall > 0:
            own = cpu_seconds() - self._c0
            self.other_cores = max(0.0, (b1 - self._b0 - own) / wall)

    def summary(self, own_threads: int) -> dict[str, Any]:
        during = self.samples or [self.after[0] if self.after else 0.0]
        cores = os.cpu_count() or 1
        return {
            "before": [round(v, 2) for v in self.before],
            "during_max": round(max(during), 2),
            "during_median": round(statistics.median(during), 2),
            "after": [round(v, 2) for v in self.after],
            "samples": len(self.samples),
            "own_threads": own_threads,
            "other_busy_cores": None if self.other_cores is None else round(self.other_cores, 2),
            "cores": cores,
            "threshold": 0.5 * cores,
        }


@contextmanager
def monitor_load(interval: float = 1.0) -> Iterator[LoadMonitor]:
    mon = LoadMonitor(interval).start()
    try:
        yield mon
    finally:
        mon.stop()


def is_contended(load: dict[str, Any]) -> bool:
    """True when other work loaded the machine beyond half its cores.

    The rule of issue 18 is "1-minute load before or during > 0.5 x cores". During the
    run the benchmark's own busy threads are part of the load, so ``own_threads`` is
    subtracted from the load measured during it; the /proc/stat measure of cores busy
    with other processes is a second, direct witness. Any of the three trips the flag.
    """
    thr = load["threshold"]
    other = load.get("other_busy_cores")
    return bool(load["before"][0] > thr
                or load["during_max"] - load["own_threads"] > thr
                or (other is not None and other > thr))


def interleaved(cases: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1
                ) -> dict[str, dict[str, Any]]:
    """Run every case ``warmup`` times untimed, then ``repeats`` rounds of A, B, A, B ...

    Returns, per case, the median and all wall and CPU seconds (process + children).
    """
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    walls: dict[str, list[float]] = {k: [] for k in cases}
    cpus: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            w0, c0 = time.perf_counter(), cpu_seconds()
            fn()
            walls[name].append(time.perf_counter() - w0)
            cpus[name].append(cpu_seconds() - c0)
    return {k: summarise(walls[k], cpus[k]) for k in cases}


def summarise(walls: list[float], cpus: list[float]) -> dict[str, Any]:
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
            "wall_s_min": min(walls), "wall_s_all": [round(w, 5) for w in walls],
            "cpu_s_all": [round(c, 5) for c in cpus], "repeats": len(walls)}


def timed(fn: Callable[[], Any], repeats: int, warmup: int = 0) -> dict[str, Any]:
    """One case alone (no comparison): medians of wall and CPU seconds over repeats."""
    return interleaved({"only": fn}, repeats, warmup)["only"]


def ratio(medians: dict[str, dict[str, Any]], num: str, den: str, clock: str = "wall_s"
          ) -> float:
    """``medians[num][clock] / medians[den][clock]``."""
    return float(medians[num][clock] / medians[den][clock])


def _commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def cpu_flags() -> list[str]:
    """The bf16/AMX-relevant flags /proc/cpuinfo reports (empty off Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    for line in text.splitlines():
        if line.startswith("flags"):
            return sorted(f for f in line.split(":", 1)[1].split()
                          if f.startswith(("avx512_bf16", "amx", "avx512f", "avx2")))
    return []


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU model and flags, cores, library versions, torch thread settings."""
    info: dict[str, Any] = {"cpu": cpu_model(), "cores": os.cpu_count(),
                            "cpu_flags": cpu_flags(), "platform": platform.platform(),
                            "python": platform.python_version()}
    try:
        import torch

        info.update(torch=torch.__version__,
                    torch_cpu_capability=torch.backends.cpu.get_cpu_capability())
    except ImportError:
        pass
    return info


def torch_threads() -> dict[str, int] | None:
    try:
        import torch
    except ImportError:
        return None
    return {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}


def make_result(name: str, *, headline: dict[str, Any], medians: dict[str, Any],
                load: dict[str, Any], quick: bool, command: str,
                details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The common result record (schema in bench/README.md).

    ``headline``: ``{"label": str, "ratio": float, "better": "lower"|"higher"}`` (the
    ratio is the figure to quote); ``medians``: case -> {wall_s, cpu_s, ...}.
    """
    for key in ("label", "ratio", "better"):
        if key not in headline:
            raise ValueError(f"headline: missing {key!r}")
    return {
        "schema": SCHEMA, "name": name, "command": command, "quick": quick,
        "headline": headline, "medians": medians, "load": load,
        "contended": is_contended(load), "machine": machine_info(),
        "torch_threads": torch_threads(), "commit": _commit(),
        "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "details": details or {},
    }


def write_result(result: dict[str, Any], path: Path | None = None) -> Path:
    """Write atomically to ``bench/results/<name>.json`` (or ``path``) and say so."""
    from ensembler.utils.atomic import write_text

    out = path or RESULTS / f"{result['name']}.json"
    write_text(out, json.dumps(result, indent=1, default=float) + "\n")
    h = result["headline"]
    flag = "CONTENDED " if result["contended"] else ""
    ld = result["load"]
    print(f"{result['name']}: {h['label']} = {h['ratio']:.3f} ({h['better']} is better); "
          f"{flag}load before {ld['before'][0]}, during max {ld['during_max']}, "
          f"others busy {ld['other_busy_cores']} cores; wrote {out}")
    return out
