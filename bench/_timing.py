"""Timing shared by every benchmark: medians over repeats, CPU next to wall, machine load."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], repeats: int, warmup: int = 0) -> dict[str, Any]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times timed.

    Returns medians of wall and process CPU seconds, the fastest wall time, every
    wall time, and the 1-minute load average at the start of each repeat.
    """
    for _ in range(warmup):
        fn()
    walls, cpus, loads = [], [], []
    for _ in range(repeats):
        loads.append(os.getloadavg()[0])
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {
        "wall_s_median": statistics.median(walls),
        "cpu_s_median": statistics.median(cpus),
        "wall_s_min": min(walls),
        "wall_s_all": walls,
        "load1_at_start": loads,
        "repeats": repeats,
    }
