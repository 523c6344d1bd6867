"""bench/compare_metrics.py: field-by-field comparison of two metrics.json, timing excepted."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

_spec = importlib.util.spec_from_file_location(
    "compare_metrics", Path(__file__).parents[1] / "bench" / "compare_metrics.py")
assert _spec is not None and _spec.loader is not None
cm: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cm)


def test_timing_fields_are_skipped_and_results_compared() -> None:
    before = {"leaderboard": [{"name": "a", "test_auc": {"point": 0.71},
                               "latency_ms": {"1": {"p50_ms": 3.0}}}],
              "stack_study": {"pareto": [{"ms_per_ecg": 1.0, "auc": 0.7}]}}
    after = {"leaderboard": [{"name": "a", "test_auc": {"point": 0.71},
                              "latency_ms": {"1": {"p50_ms": 9.0}}}],
             "stack_study": {"pareto": [{"ms_per_ecg": 2.0, "auc": 0.7}]}}
    diffs, compared, skipped = cm.compare(before, after)
    assert diffs == [] and compared == 3 and skipped == 2


def test_a_changed_or_missing_field_is_reported() -> None:
    before = {"primary": {"delta": 0.01, "p_value": 0.2}, "n_test": 10}
    after = {"primary": {"delta": 0.010000000000000002}, "n_test": 10, "new": True}
    diffs, _, _ = cm.compare(before, after)
    assert diffs == ["new: only after (True)",
                     "primary.delta: 0.01 -> 0.010000000000000002",
                     "primary.p_value: only before (0.2)"]
    assert len(cm.compare(before, after, rel_tol=1e-12)[0]) == 2
