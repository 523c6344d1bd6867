"""The distillation summary of a report: each student against its teacher stack.

For every ``distilled`` row: Δ vs the teacher stack (paired patient bootstrap on the same
resamples as every other Δ) and the share of the stack's gain over the baseline (best
single model) the student keeps, ``(AUC_student - AUC_best) / (AUC_stack - AUC_best)``,
with a percentile CI over the same resamples; when the stack's own gain CI includes 0
there is no gain to keep and no share is given. Latency share: the student's median ms
per ECG at batch size 1 over the stack's.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from ensembler.evaluation.bootstrap import paired_delta_from_samples, percentile_ci
from ensembler.report.inputs import TwinRef
from ensembler.report.schema import CI, DeltaCI, DistillationRow, HardTwin, LeaderboardRow

ALPHA = 0.05


def _latency_share(row: LeaderboardRow, stack: LeaderboardRow) -> float | None:
    a, b = row.latency(1), stack.latency(1)
    return float(a.p50_ms / b.p50_ms) if a and b and b.p50_ms > 0 else None


def _share_kept(s: NDArray[np.float64], t: NDArray[np.float64], b: NDArray[np.float64],
                points: tuple[float, float, float]) -> CI:
    gain = t - b
    ok = np.isfinite(s) & np.isfinite(gain) & (gain != 0)
    lo, hi = percentile_ci((s[ok] - b[ok]) / gain[ok], ALPHA)
    ps, pt, pb = points
    return CI(point=(ps - pb) / (pt - pb), lo=lo, hi=hi)


def _point(r: LeaderboardRow) -> float:
    return float("nan") if r.test_auc.point is None else r.test_auc.point


def _delta(rows: dict[str, LeaderboardRow], samples: dict[str, NDArray[np.float64]], a: str,
           b: str) -> DeltaCI:
    """Paired bootstrap Δ AUC(a) − AUC(b) on the shared resamples."""
    d = paired_delta_from_samples(_point(rows[a]), _point(rows[b]), samples[a], samples[b],
                                  ALPHA)
    return DeltaCI(**d._asdict())


def distillation_summary(rows: dict[str, LeaderboardRow],
                         samples: dict[str, NDArray[np.float64]], teacher: str | None,
                         baseline: str, twins: Mapping[str, TwinRef] | None = None
                         ) -> list[DistillationRow]:
    """One entry per distilled row (empty without students or teacher): Δ vs stack, stack
    gain, share kept (None when the stack's gain CI includes 0), latency share, Δ vs the
    hard-label twin (None without one), and the sentences."""
    if teacher is None or teacher not in rows:
        return []
    stack_gain = _delta(rows, samples, teacher, baseline)
    out = []
    for name, row in rows.items():
        if row.kind != "distilled":
            continue
        vs_stack = _delta(rows, samples, name, teacher)
        no_gain = _le(stack_gain.lo, 0) and _le(0, stack_gain.hi)
        kept = None if no_gain else _share_kept(
            samples[name], samples[teacher], samples[baseline],
            (_point(row), _point(rows[teacher]), _point(rows[baseline])))
        lat = _latency_share(row, rows[teacher])
        ref = (twins or {}).get(name)
        vs_twin = _delta(rows, samples, name, ref.row) \
            if ref is not None and ref.row in rows else None
        out.append(DistillationRow(
            name=name, teacher=teacher, delta_vs_stack=vs_stack, stack_gain=stack_gain,
            share_kept=kept, latency_share=lat, sentence=_sentence(name, teacher, kept, lat),
            hard_twin=None if ref is None else HardTwin(row=ref.row, source=ref.source),
            delta_vs_hard_twin=vs_twin, twin_sentence=_twin_sentence(name, ref, vs_twin)))
    return out


def _le(a: float | None, b: float | None) -> bool:
    """``a <= b`` as floats (None read as NaN, which compares False)."""
    return float("nan" if a is None else a) <= float("nan" if b is None else b)


def _num(x: float | None) -> float:
    return float("nan") if x is None else x


def _twin_sentence(name: str, ref: TwinRef | None, d: DeltaCI | None) -> str:
    if ref is None or ref.row is None or d is None:
        why = "" if ref is None else f" ({ref.source})"
        return f"`{name}`: no hard-label twin to compare with{why}."
    verdict = ("is better than" if _num(d.lo) > 0 else "is worse than" if _num(d.hi) < 0
               else "is not better than")
    return (f"`{name}`: the student {verdict} the same network trained on hard labels "
            f"({ref.source}): Δ {_num(d.delta):+.3f} (95 % CI {_num(d.lo):+.3f} to "
            f"{_num(d.hi):+.3f}, p {_num(d.p_value):.3f}).")


def _sentence(name: str, teacher: str, kept: CI | None, lat: float | None) -> str:
    at = f" at {100 * lat:.0f} % of its latency" if lat is not None else ""
    if kept is None:
        return (f"`{name}`: no gain to keep — the CI of `{teacher}`'s gain over the best "
                f"single model includes 0; the student runs{at or ' (latency n/a)'}.")
    return (f"`{name}`: the student keeps {100 * _num(kept.point):.0f} % (95 % CI "
            f"{100 * _num(kept.lo):.0f} to {100 * _num(kept.hi):.0f} %) of `{teacher}`'s gain "
            f"over the best single model{at}.")
