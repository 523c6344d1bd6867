"""CPU threads for torch (and ONNX Runtime, which follows torch's setting).

Torch's default (one thread per physical core of the machine) ignores CPU affinity,
container quotas and the other processes on a shared machine; with OpenMP's default
busy-waiting, idle threads then spin on cores other work needs (measured on a shared
2-core machine: ``export`` 150 s with the default, 6.6 s with one thread). The CLI
therefore turns spinning off before torch is imported and sets the thread count
explicitly: ``--threads``, by default the CPUs this process may actually use, capped.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Default cap: small CNN inference on CPU gains little past 8 threads.
MAX_DEFAULT_THREADS = 8


def _cgroup_cpus(path: Path = Path("/sys/fs/cgroup/cpu.max")) -> float | None:
    """CPUs granted by a cgroup v2 quota (``cpu.max``: "quota period"), or None."""
    try:
        quota, period = path.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return float(quota) / float(period)
    except (ValueError, ZeroDivisionError):
        return None


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask, further limited by a cgroup quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    quota = _cgroup_cpus()
    if quota is not None:
        n = min(n, max(1, int(quota)))
    return max(1, n)


def default_threads() -> int:
    """The default of ``--threads``: the available CPUs, at most ``MAX_DEFAULT_THREADS``."""
    return min(available_cpus(), MAX_DEFAULT_THREADS)


def disable_spinning() -> None:
    """Make OpenMP threads sleep instead of busy-wait between parallel regions.

    Read once by the OpenMP runtime when torch loads, so this must run before the first
    ``import torch`` (the CLI calls it first thing). A value set by the user is kept.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def set_torch_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads to ``n`` (default: :func:`default_threads`); returns it.
    ONNX Runtime sessions of a bundle take the same number."""
    import torch

    n = default_threads() if n is None else max(1, int(n))
    torch.set_num_threads(n)
    return n
