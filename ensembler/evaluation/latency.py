"""Inference latency per ECG, measured around a caller-supplied predict function."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["LatencyStats", "measure_latency"]


@dataclass(frozen=True)
class LatencyStats:
    """Per-ECG latency at one batch size: median and 95th percentile over repeats (ms)."""

    batch_size: int
    p50_ms: float
    p95_ms: float
    repeats: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def measure_latency(
    predict_fn: Callable[[int], object],
    batch_sizes: Sequence[int] = (1, 64),
    repeats: int = 20,
    warmup: int = 2,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[int, LatencyStats]:
    """Time ``predict_fn(batch_size)`` and report milliseconds per ECG.

    ``predict_fn`` must run one complete prediction on a batch of that many
    ECGs already in memory (members plus meta-learner for an ensemble) and
    return only when the result is ready (on GPU: after synchronising). Each
    call's wall time is divided by the batch size. ``clock`` returns seconds
    (``time.perf_counter``; tests pass a fake).

    Returns
    -------
    ``{batch_size: LatencyStats}``.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(
            f"repeats/warmup: expected repeats >= 1, warmup >= 0; got {repeats}, {warmup}"
        )
    out: dict[int, LatencyStats] = {}
    for bs in batch_sizes:
        if int(bs) < 1:
            raise ValueError(f"batch_sizes: expected positive sizes, got {bs}")
        for _ in range(warmup):
            predict_fn(int(bs))
        times = np.empty(repeats)
        for r in range(repeats):
            t0 = clock()
            predict_fn(int(bs))
            times[r] = (clock() - t0) * 1000.0 / int(bs)
        out[int(bs)] = LatencyStats(
            int(bs), float(np.median(times)), float(np.percentile(times, 95)), repeats
        )
    return out
