"""The bundle's conformal calibration: written at export, read by predict and evaluate.

The calibration lives in ``manifest.json`` under ``conformal`` (so it is covered by the
manifest digest): the per-class quantiles of :mod:`ensembler.conformal`, the target
error rate ``alpha`` (``export.conformal_alpha``), the flag margin used by ``evaluate``
and a provenance sentence ("calibrated on the stack's meta-level out-of-fold
probabilities of N development patients").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ensembler.conformal import (
    ConformalCalibration,
    ConformalError,
    calibrate_conformal,
    conformal_summary,
    kept_and_decisions,
    prediction_sets,
    subgroup_conformal,
)
from ensembler.errors import BundleIntegrityError

__all__ = [
    "bundle_conformal",
    "card_lines",
    "conformal_columns",
    "conformal_entry",
    "conformal_markdown",
    "conformal_report",
]

EXCHANGEABILITY = (
    "Prediction sets cover each class's true label with probability >= 1 - alpha only "
    "when new ECGs are exchangeable with the development cohort they were calibrated on "
    "(same population, devices, acquisition and label definitions). A hospital's data "
    "may differ: run `ensembler evaluate` on labelled local data and read the measured "
    "coverage before relying on the sets. The guarantee is per class and marginal: "
    "not per ECG across classes, not within a subgroup.")


def conformal_entry(oof: np.ndarray, y: np.ndarray, groups: np.ndarray, class_names: list[str],
                    alpha: float | None, margin: float, member_mode: str) -> dict[str, Any] | None:
    """The manifest's ``conformal`` entry, or None when ``alpha`` is None (no sets shipped).

    Parameters
    ----------
    oof : (N_dev, C) the stack's calibrated meta-level OOF probabilities (``FittedStack.oof_``).
    y : (N_dev, C) development labels; groups : (N_dev,) patient ids, rows as ``oof``.
    """
    if alpha is None:
        return None
    calib = calibrate_conformal(oof, y, groups, alpha, class_names)
    note = ("meta-level OOF scores come from one level-0 set per row, the shipped stack "
            "averages the K fold sets" if member_mode == "fold-average" else
            "meta-level OOF scores come from the fold models, the shipped stack scores the "
            "refit-full models")
    return {**calib.to_dict(), "flag_margin": margin, "provenance": calib.provenance,
            "exchangeability_note": f"{note}: calibration and shipped scores are not exactly "
                                    "exchangeable; measured test coverage shows the effect"}


def bundle_conformal(manifest: dict[str, Any], where: str = "manifest.json"
                     ) -> ConformalCalibration | None:
    """The bundle's calibration (None when it ships none); malformed entries name the field."""
    doc = manifest.get("conformal")
    if doc is None:
        return None
    try:
        calib = ConformalCalibration.from_dict(doc, where=f"{where}: conformal")
    except ConformalError as exc:
        raise BundleIntegrityError(str(exc)) from None
    names = list(manifest["task"]["class_names"])
    if calib.class_names != names:
        raise BundleIntegrityError(f"{where}: conformal classes {calib.class_names} differ "
                                   f"from the task's {names}")
    return calib


def _set_text(sets: np.ndarray) -> list[str]:
    return ["{" + ",".join(str(lab) for lab in (0, 1) if s[lab]) + "}" for s in sets]


def conformal_columns(manifest: dict[str, Any], proba: np.ndarray) -> pd.DataFrame:
    """``set_<class>`` ("{0}", "{1}", "{0,1}" or "{}") and ``abstain`` (1 unless every
    class's set is a singleton) per record; an empty frame when the bundle has no sets."""
    calib = bundle_conformal(manifest)
    if calib is None:
        return pd.DataFrame(index=range(proba.shape[0]))
    sets = prediction_sets(calib, proba)
    kept, _ = kept_and_decisions(sets) if len(proba) else (np.zeros(0, bool), None)
    frame = pd.DataFrame({f"set_{c}": _set_text(sets[:, j]) for j, c in
                          enumerate(calib.class_names)}, index=range(proba.shape[0]))
    frame["abstain"] = (~kept).astype(int)
    return frame


def conformal_report(manifest: dict[str, Any], y: np.ndarray, proba: np.ndarray,
                     groups: np.ndarray, subgroups: pd.DataFrame, columns: list[str],
                     n_boot: int, seed: int) -> dict[str, Any] | None:
    """Measured coverage, fraction kept and error among kept, overall and per subgroup."""
    calib = bundle_conformal(manifest)
    if calib is None:
        return None
    margin = float(manifest["conformal"].get("flag_margin", 0.05))
    sets = prediction_sets(calib, proba)
    overall = conformal_summary(sets, y, groups, calib.alpha, calib.class_names, margin,
                                n_boot, seed)
    by_col = {col: [s.as_dict() for s in subgroup_conformal(
        sets, y, groups, subgroups[col].to_numpy(), col, calib.alpha, calib.class_names,
        margin, n_boot, seed)] for col in columns}
    return {"alpha": calib.alpha, "margin": margin, "provenance": calib.provenance,
            "overall": overall.as_dict(), "subgroups": by_col,
            "note": "coverage is guaranteed only marginally per class under exchangeability; "
                    "fraction kept and error among kept are measured, not guaranteed"}


def _pct(r: dict[str, Any]) -> str:
    def f(v: Any) -> str:
        return "n/a" if v is None or not np.isfinite(v) else f"{100 * v:.1f}%"

    return f"{f(r['point'])} ({f(r['lo'])}–{f(r['hi'])})"


def conformal_markdown(section: dict[str, Any] | None) -> list[str]:
    """Lines for ``evaluate``'s markdown report (nothing when the bundle ships no sets)."""
    if not section:
        return []
    o, a = section["overall"], section["alpha"]
    lines = ["", f"## Prediction sets (alpha = {a:g}; {section['provenance']})", "",
             f"Fraction kept (every class's set a singleton): {_pct(o['kept'])}; "
             f"abstention {100 * o['abstention']:.1f}%. Error among kept ECGs (measured, not "
             f"guaranteed): {_pct(o['error_kept'])} on {o['n_kept']} ECGs.", "",
             f"| class | coverage (95% CI; target {100 * (1 - a):.0f}%) | among positives | "
             "among negatives | singleton |", "|---|---|---|---|---|"]
    for c in o["classes"]:
        flag = " **below target**" if c["below_target"] else ""
        lines.append(f"| {c['name']} | {_pct(c['coverage'])}{flag} | "
                     f"{100 * c['coverage_pos']:.1f}% | {100 * c['coverage_neg']:.1f}% | "
                     f"{100 * c['singleton']:.1f}% |")
    for col, rows in section["subgroups"].items():
        floor = 100 * (1 - a - section["margin"])
        lines += ["", f"Coverage by `{col}` (flagged: below {floor:.0f}%):",
                  "", "| subgroup | n | kept | error among kept | flagged classes |",
                  "|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['subgroup']} | {r['n']} | {_pct(r['kept'])} | "
                         f"{_pct(r['error_kept'])} | {', '.join(r['flagged']) or '-'} |")
    lines += ["", section["note"] + "."]
    return lines


def card_lines(manifest: dict[str, Any]) -> list[str]:
    """The model card's prediction-set paragraph with the exchangeability caveat."""
    doc = manifest.get("conformal")
    if not doc:
        return []
    return ["## Prediction sets and abstention", "",
            f"`predict` adds per-class conformal prediction sets (`set_<class>`) and an "
            f"`abstain` flag (1 unless every class's set is a single label), alpha = "
            f"{doc['alpha']:g}, {doc['provenance']}, with {doc.get('library', 'crepes')}.", "",
            f"**Exchangeability.** {EXCHANGEABILITY} Also: {doc['exchangeability_note']}.", ""]
