"""The report's prediction-set / abstention / decision-curve section."""

from __future__ import annotations

import numpy as np
import pytest

from ensembler.conformal import calibrate_conformal, kept_and_decisions, prediction_sets
from ensembler.report import build_report
from ensembler.report.selective import ALPHAS, selective_rows


def test_rows_are_each_models_own_calibration_on_development_oof(comparison) -> None:  # type: ignore[no-untyped-def]
    rows = selective_rows(comparison)
    by = {e.name: e for e in comparison.entries}
    assert list(rows) == [comparison.baseline, comparison.primary[0]]
    for name, rs in rows.items():
        e = by[name]
        assert [r["alpha"] for r in rs] == list(ALPHAS)
        calib = calibrate_conformal(e.dev_oof_proba, comparison.y_dev, comparison.groups_dev,
                                    0.1, list(comparison.class_names))
        sets = prediction_sets(calib, e.test_proba)
        kept, _ = kept_and_decisions(sets)
        assert rs[1]["kept"] == kept.mean()
    # sets are nested in alpha (a larger alpha: smaller quantiles), so coverage cannot rise
    for rs in rows.values():
        assert rs[0]["coverage_mean"] >= rs[1]["coverage_mean"] >= rs[2]["coverage_mean"]


@pytest.mark.slow
def test_section_and_figures_are_in_the_report(comparison, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report"
    metrics = build_report(comparison, out)
    md = (out / "report.md").read_text()
    assert "## Prediction sets, abstention and net benefit" in md
    assert "measured on the test set, not guaranteed" in md
    for fig in ("risk_coverage", "decision_curve"):
        assert (out / "figures" / f"{fig}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"figures/{fig}.png" in metrics.figures
    assert np.isfinite(selective_rows(comparison)[comparison.baseline][1]["kept"])
