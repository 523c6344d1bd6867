"""Report section: prediction sets, selective prediction and net benefit, best single vs stack.

For the baseline (best single) and the primary stack, each calibrated on its OWN
development out-of-fold probabilities (the stack's meta-level OOF): per-class Mondrian
conformal sets at alpha in ``ALPHAS`` (fixed here, before any test set is read) with
test coverage, fraction kept and error among kept; a risk-coverage curve over
``CURVE_ALPHAS``; and decision curves. Test numbers are measured, one read of the
test set, and inform no choice.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from ensembler.conformal import calibrate_conformal, kept_and_decisions, prediction_sets
from ensembler.evaluation.net_benefit import net_benefit, treat_all_net_benefit
from ensembler.report.document import Block, Figure, Heading, Paragraph, Table
from ensembler.report.inputs import ComparisonInput, LeaderboardEntry

__all__ = ["ALPHAS", "CURVE_ALPHAS", "selective_blocks", "selective_rows"]

ALPHAS = (0.05, 0.1, 0.2)
CURVE_ALPHAS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
THRESHOLDS = np.linspace(0.02, 0.6, 30)


def _pair(inp: ComparisonInput) -> list[LeaderboardEntry]:
    by = {e.name: e for e in inp.entries}
    names = [inp.baseline] + ([inp.primary[0]] if inp.primary else
                              [e.name for e in inp.entries if e.kind == "stack"][:1])
    return [by[n] for n in dict.fromkeys(names) if n in by and by[n].dev_oof_proba is not None]


def _measure(inp: ComparisonInput, e: LeaderboardEntry, alpha: float) -> dict[str, float]:
    if e.dev_oof_proba is None:
        raise ValueError(f"{e.name}: no development OOF probabilities to calibrate on")
    calib = calibrate_conformal(np.clip(e.dev_oof_proba, 0, 1), inp.y_dev, inp.groups_dev,
                                alpha, list(inp.class_names))
    sets = prediction_sets(calib, np.clip(e.test_proba, 0, 1))
    y = np.asarray(inp.y_test).astype(np.intp)
    covered = np.take_along_axis(sets, y[:, :, None], axis=2)[:, :, 0].mean(axis=0)
    kept, decision = kept_and_decisions(sets)
    wrong = (decision != y).any(axis=1) & kept
    return {"alpha": alpha, "coverage_min": float(covered.min()),
            "coverage_mean": float(covered.mean()), "kept": float(kept.mean()),
            "error_kept": float(wrong.sum() / kept.sum()) if kept.any() else float("nan")}


def selective_rows(inp: ComparisonInput, alphas: Sequence[float] = ALPHAS
                   ) -> dict[str, list[dict[str, float]]]:
    """``{model: [measures per alpha]}`` for the baseline and the primary stack."""
    return {e.name: [_measure(inp, e, a) for a in alphas] for e in _pair(inp)}


def _png(fig: object) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return buf.getvalue()


def _risk_coverage_png(curves: dict[str, list[dict[str, float]]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for name, rows in curves.items():
        ax.plot([r["kept"] for r in rows], [r["error_kept"] for r in rows], marker="o",
                label=name)
    ax.set(xlabel="fraction of ECGs kept (not referred)", ylabel="error among kept ECGs",
           title="Risk-coverage (conformal sets, alpha swept)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _decision_png(inp: ComparisonInput, entries: list[LeaderboardEntry]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = np.asarray(inp.y_test)
    n = len(inp.class_names)
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.6), squeeze=False)
    allnb = treat_all_net_benefit(y, THRESHOLDS)
    for e in entries:
        nb = net_benefit(y, np.clip(e.test_proba, 0, 1), THRESHOLDS)
        for c in range(n):
            axes[0, c].plot(THRESHOLDS, nb[:, c], label=e.name)
    for c, ax in enumerate(axes[0]):
        ax.plot(THRESHOLDS, allnb[:, c], ls="--", c="grey", label="treat all")
        ax.axhline(0, c="black", lw=0.8, label="treat none")
        top = max(float(allnb[:, c].max()), 0.05) * 1.2
        ax.set(title=inp.class_names[c], xlabel="threshold probability", ylabel="net benefit",
               ylim=(-0.05, top))
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _fmt(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{100 * v:.1f}%"


def selective_blocks(inp: ComparisonInput) -> list[Block]:
    """Heading, measured table, risk-coverage and decision-curve figures (empty if no pair)."""
    entries = _pair(inp)
    if not entries:
        return []
    rows = selective_rows(inp)
    table = Table(["model", "alpha", "target coverage", "test coverage (min / mean over "
                   "classes)", "kept", "error among kept"],
                  [[name, f"{r['alpha']:g}", _fmt(1 - r["alpha"]),
                    f"{_fmt(r['coverage_min'])} / {_fmt(r['coverage_mean'])}", _fmt(r["kept"]),
                    _fmt(r["error_kept"])] for name, rs in rows.items() for r in rs])
    curves = selective_rows(inp, CURVE_ALPHAS)
    return [Heading("Prediction sets, abstention and net benefit"),
            Paragraph("Per-class Mondrian conformal sets (crepes), each model calibrated on "
                      "its own development out-of-fold probabilities (the stack: its "
                      "meta-level OOF). An ECG is kept when every class's set is a single "
                      "label. Coverage is guaranteed only marginally per class under "
                      "exchangeability; the fraction kept and the error among kept are "
                      "measured on the test set, not guaranteed."),
            table,
            Figure("risk_coverage", "Risk-coverage: error among kept ECGs vs fraction kept "
                   "(test set)", _risk_coverage_png(curves)),
            Figure("decision_curve", "Decision curves (net benefit, test set)",
                   _decision_png(inp, entries))]
