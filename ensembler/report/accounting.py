"""What the report says about its own numbers: which stages read the test labels,
how many bootstrap resamples were dropped, and how much the primary Δ moves with
the members' training seed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from ensembler.report.schema import (
    BootstrapDropped,
    DroppedAtOperatingPoint,
    LeaderboardRow,
    OperatingPoints,
    SeedSpread,
    Subgroups,
    TestLedger,
    TestRead,
    TestReads,
)

__all__ = ["DROP_WARN", "dropped_counts", "dropped_warnings", "seed_spread", "test_reads"]

#: Warn when more than this fraction of resamples was dropped from a CI.
DROP_WARN = 0.01

REPORT_READ = {
    "stage": "comparison report",
    "when": "this report",
    "what": "every leaderboard row, the primary comparison, operating points, calibration "
            "and subgroups",
}


def _nonfinite(x: NDArray[np.float64]) -> int:
    return int(np.count_nonzero(~np.isfinite(x)))


def dropped_counts(names: Sequence[str], boot: NDArray[np.float64],
                   macro: NDArray[np.float64], ok: NDArray[np.bool_],
                   op: OperatingPoints | None) -> BootstrapDropped:
    """Resamples left out of each CI of one row (a class lost its positives or negatives,
    or a rate's denominator was empty).

    Parameters
    ----------
    boot : (B, C) per-class AUC per resample; macro : (B,) macro AUC per resample.
    ok : (C,) classes evaluable on the full test set; op : the row's operating points
        or None.
    """
    at_op = None
    if op is not None:
        at_op = DroppedAtOperatingPoint(
            macro={k: v.n_dropped for k, v in op.macro.items()},
            per_class={n: {k: getattr(pc, k).n_dropped
                           for k in ("sensitivity", "specificity", "ppv", "npv")}
                       for n, pc in zip(names, op.per_class, strict=True)})
    return BootstrapDropped(
        n_bootstrap=int(boot.shape[0]), auc_macro=_nonfinite(macro),
        auc_per_class={n: _nonfinite(boot[:, c]) if ok[c] else None
                       for c, n in enumerate(names)},
        operating_point=at_op)


def _over(n: int | None, total: int) -> bool:
    return n is not None and total > 0 and n / total > DROP_WARN


def _pct(n: int, total: int) -> str:
    return f"{n}/{total} ({100 * n / total:.1f} %)"


def dropped_warnings(rows: Sequence[LeaderboardRow], subgroups: Subgroups,
                     n_boot: int) -> list[str]:
    """One line per CI for which more than :data:`DROP_WARN` of the resamples were dropped."""
    out = [line for r in rows for line in _row_dropped(r, n_boot)]
    for col, per_model in subgroups.columns.items():
        for model, srows in per_model.items():
            out += [f"subgroup {col} = {s.value} ({model}): macro AUC, "
                    f"{_pct(s.n_dropped, n_boot)}"
                    for s in srows if _over(s.n_dropped, n_boot)]
    return out


def _row_dropped(r: LeaderboardRow, n_boot: int) -> list[str]:
    """The over-threshold drop counts of one leaderboard row (AUCs, operating points)."""
    d = r.bootstrap_dropped
    out: list[str] = []
    if _over(d.auc_macro, n_boot):
        out.append(f"{r.name}: macro AUC, {_pct(d.auc_macro, n_boot)}")
    out += [f"{r.name}: AUC of {c}, {_pct(n, n_boot)}"
            for c, n in d.auc_per_class.items() if n is not None and _over(n, n_boot)]
    per_class = d.operating_point.per_class if d.operating_point else {}
    for c, rates in per_class.items():
        bad = [f"{k} {_pct(n, n_boot)}" for k, n in rates.items() if _over(n, n_boot)]
        if bad:
            out.append(f"{r.name}: operating point of {c}, " + ", ".join(bad))
    return out


def test_reads(extra: Sequence[Mapping[str, object]], ledger: TestLedger | None = None
               ) -> TestReads:
    """Every stage of the run that read the test labels, this report included; ``ledger``:
    this read's place among the reads of the same test set by every run."""
    reads = [TestRead(stage=REPORT_READ["stage"], when=REPORT_READ["when"],
                      what=REPORT_READ["what"], informed_choice=False)]
    own = ("stage", "when", "what", "informed_choice")
    reads += [TestRead(stage=str(r["stage"]), when=str(r["when"]), what=str(r["what"]),
                       informed_choice=bool(r.get("informed_choice", False)),
                       extra={k: v for k, v in r.items() if k not in own}) for r in extra]
    informed = [r.stage for r in reads if r.informed_choice]
    return TestReads(
        count=len(reads), stages=reads, informed_a_choice=informed,
        note="no stage that read test labels informed a choice; every choice was fixed "
             "on development data before" if not informed else
             "WARNING: these stages read test labels and informed a choice: "
             + ", ".join(informed), ledger=ledger)


def seed_spread(values: Sequence[float] | None) -> SeedSpread | None:
    """Mean, SD (ddof 1), range and values of a per-seed quantity; None without values."""
    if values is None or len(values) == 0:
        return None
    v = np.asarray(values, dtype=np.float64)
    return SeedSpread(n_seeds=int(v.size), mean=float(v.mean()),
                      sd=float(v.std(ddof=1)) if v.size > 1 else float("nan"),
                      min=float(v.min()), max=float(v.max()), values=v.tolist())
