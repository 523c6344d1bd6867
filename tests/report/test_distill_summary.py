"""The report's distillation sentence: share of the stack's gain kept, with its CI, or
"no gain to keep" when the stack's gain CI includes 0."""

from __future__ import annotations

from typing import Any

import numpy as np

from ensembler.report.distill import distillation_summary
from ensembler.report.schema import HardTwin, LeaderboardRow
from ensembler.utils.jsonclass import from_json_dict


def _row(name: str, kind: str, point: float, p50: float) -> LeaderboardRow:
    """A leaderboard row with only what the summary reads filled in."""
    none: dict[str, Any] = {"macro": None, "per_class": {}}
    return from_json_dict(LeaderboardRow, {
        "name": name, "kind": kind, "members": [], "n_members": 1, "n_params": None,
        "latency_ms": {"1": {"batch_size": 1, "p50_ms": p50, "p95_ms": p50, "repeats": 1}},
        "test_auc": {"point": point, "lo": None, "hi": None}, "test_auc_per_class": {},
        "test_ap": none, "calibration": {"brier": none, "ece": none, "slope": {},
                                         "intercept": {}},
        "seed_spread": None, "notes": "", "dev_oof_auc": None, "dev_oof_auc_label": None,
        "dev_estimate": None, "threshold": None, "operating_point": None,
        "bootstrap_dropped": {"n_bootstrap": 0, "auc_macro": 0, "auc_per_class": {},
                              "operating_point": None}}, "row")


def _case(stack_auc: float) -> tuple[dict[str, LeaderboardRow], dict[str, np.ndarray]]:
    noise = np.random.default_rng(0).normal(0, 0.01, 500)  # shared resamples: paired
    rows = {"best_single": _row("best_single", "best_single", 0.70, 1.0),
            "joint_stack": _row("joint_stack", "stack", stack_auc, 8.0),
            "distilled:cnn": _row("distilled:cnn", "distilled", 0.75, 2.0)}
    samples = {n: float(r.test_auc.point or 0) + noise + (0.002 * np.sin(np.arange(500) * i))
               for i, (n, r) in enumerate(rows.items())}
    return rows, samples


def test_share_of_the_gain_kept_with_ci_and_latency_share() -> None:
    rows, samples = _case(0.80)
    [d] = distillation_summary(rows, samples, "joint_stack", "best_single")
    assert d.share_kept is not None and d.share_kept.point == 0.5
    assert d.share_kept.lo < 0.5 < d.share_kept.hi < 0.7  # type: ignore[operator]
    assert abs(d.delta_vs_stack.delta + 0.05) < 1e-12  # type: ignore[operator]
    assert d.latency_share == 0.25
    assert "keeps 50 % (95 % CI" in d.sentence and "at 25 % of its latency" in d.sentence


def test_no_gain_to_keep_when_the_stack_gain_ci_includes_zero() -> None:
    rows, samples = _case(0.7001)
    [d] = distillation_summary(rows, samples, "joint_stack", "best_single")
    assert d.share_kept is None
    assert "no gain to keep" in d.sentence
    assert distillation_summary(rows, samples, None, "best_single") == []


def test_student_against_its_hard_label_twin() -> None:
    from ensembler.report.inputs import TwinRef

    rows, samples = _case(0.80)
    noise = np.random.default_rng(1).normal(0, 0.002, 500)
    auc_of = {"cnn": 0.70, "cnn:refit_full": 0.749, "hard_twin:cnn": 0.80}
    for twin, auc in auc_of.items():
        rows[twin] = _row(twin, "fold_bag", auc, 2.0)
        samples[twin] = samples["distilled:cnn"] - 0.75 + auc + noise
    src = "member `cnn`"
    verdicts = {"cnn": "is better than", "cnn:refit_full": "is not better than",
                "hard_twin:cnn": "is worse than"}
    for twin, verdict in verdicts.items():
        [d] = distillation_summary(rows, samples, "joint_stack", "best_single",
                                   {"distilled:cnn": TwinRef(twin, src)})
        vs = d.delta_vs_hard_twin
        assert vs is not None and vs.delta is not None
        assert abs(vs.delta - (0.75 - auc_of[twin])) < 1e-12
        assert vs.lo < vs.delta < vs.hi  # type: ignore[operator]
        assert d.hard_twin == HardTwin(row=twin, source=src)
        assert f"the student {verdict} the same network trained on hard labels" \
            in str(d.twin_sentence), d.twin_sentence
    [d] = distillation_summary(rows, samples, "joint_stack", "best_single",
                               {"distilled:cnn": TwinRef(None, "none: no refit-full model")})
    assert d.delta_vs_hard_twin is None
    assert "no hard-label twin to compare with (none: no refit-full model)" in str(d.twin_sentence)
