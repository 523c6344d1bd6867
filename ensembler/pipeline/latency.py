"""Inference latency of members and stacks on the current device (for the report).

Latency is timed on ONE torch thread: a single inference stream per core is how
per-ECG latency is usually served, and on a busy 2-core machine multi-threaded
small batches spend most of their time in OpenMP barriers (we measured 350 ms vs
2.4 ms per ECG at batch 1 for the same network under load), which would make the
figures measure the machine's load rather than the model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ensembler.evaluation import LatencyStats, measure_latency
from ensembler.training.member_meta import MemberMeta


def member_latency(run_dir: Path, meta: MemberMeta, n_leads: int, n_samples: int,
                   n_classes: int, fs: float,
                   repeats: int, batch_sizes: tuple[int, ...] = (1, 64),
                   root: str = "base", leaf: str = "fold_0",
                   features: bool = True) -> dict[int, LatencyStats] | None:
    """ms per ECG of ONE fold model of the member ``meta`` describes (windowing included);
    None if absent (an external member has no model here).
    ``root``: the folder of the fold models under the run (students: distill/students);
    ``leaf``: which model (``fold_0``, or ``full`` for a single-only student);
    ``features``: for a feature member, include the feature computation (False: the
    learner alone, for rows that compute the features once for all fold models)."""
    from ensembler.bundle.members import BundleMember, load_fold_model
    from ensembler.training.loop import window_lengths

    folder = run_dir / root / meta.member / leaf
    if meta.kind == "external" or not (folder / "meta.json").is_file():
        return None
    if meta.kind == "features":
        from ensembler.training.feature_member import feature_member_latency

        return feature_member_latency(folder, repeats, batch_sizes, features)
    spec = meta.spec
    fm = load_fold_model(spec, leaf, (folder / "weights.safetensors").read_bytes(),
                         (folder / "state.json").read_text(), n_leads, n_classes, str(folder))
    win, stride = window_lengths(spec, fs, n_samples)
    bm = BundleMember(spec=spec, window=win, stride=stride, models=[fm])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(max(batch_sizes), n_leads, n_samples)).astype(np.float32)
    tab = (rng.normal(size=(max(batch_sizes), len(spec.tabular_names))).astype(np.float32)
           if spec.tabular_names else None)
    with one_thread():
        return measure_latency(
            lambda bs: bm.predict(0, x[:bs], None if tab is None else tab[:bs]),
            batch_sizes=batch_sizes, repeats=repeats, warmup=2)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with torch on one intra-op thread, then restore."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def stack_meta_latency(fitted: Any, n_classes: int, repeats: int,
                       batch_sizes: tuple[int, ...] = (1, 64)) -> dict[int, LatencyStats]:
    """ms per ECG of the meta-learner alone on one level-0 set."""
    rng = np.random.default_rng(0)
    n = max(batch_sizes)
    preds = {m: rng.uniform(0.01, 0.99, size=(n, n_classes)) for m in fitted.spec.members}
    tab = (rng.normal(size=(n, len(fitted.tabular_names))) if fitted.tabular_names else None)
    return measure_latency(
        lambda bs: fitted.predict_level0({m: p[:bs] for m, p in preds.items()},
                                         None if tab is None else tab[:bs]),
        batch_sizes=batch_sizes, repeats=repeats, warmup=1)


def combine(parts: list[tuple[dict[int, LatencyStats], float]]) -> dict[int, LatencyStats]:
    """Sum of (latency x multiplicity) per batch size: members run one after another."""
    out: dict[int, LatencyStats] = {}
    for bs in parts[0][0]:
        p50 = sum(lat[bs].p50_ms * mult for lat, mult in parts)
        p95 = sum(lat[bs].p95_ms * mult for lat, mult in parts)
        out[bs] = LatencyStats(batch_size=bs, p50_ms=p50, p95_ms=p95,
                               repeats=min(lat[bs].repeats for lat, _ in parts))
    return out
