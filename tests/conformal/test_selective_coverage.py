"""Selective prediction and measured coverage (bootstrap CIs, subgroup flags)."""

from __future__ import annotations

import numpy as np
import pytest

from ensembler.conformal import (
    ConformalError,
    calibrate_conformal,
    conformal_summary,
    kept_and_decisions,
    prediction_sets,
    set_labels,
    subgroup_conformal,
)

# 4 ECGs x 2 classes; [label 0 in set, label 1 in set]
SETS = np.array([
    [[1, 0], [0, 1]],  # kept: decides (0, 1)
    [[1, 1], [1, 0]],  # ambiguous class 0: referred
    [[0, 1], [1, 0]],  # kept: decides (1, 0)
    [[0, 0], [1, 0]],  # empty set for class 0: referred
], dtype=bool)


def test_kept_only_when_every_class_is_a_singleton() -> None:
    kept, decision = kept_and_decisions(SETS)
    assert kept.tolist() == [True, False, True, False]
    assert decision.tolist() == [[0, 1], [-1, 0], [1, 0], [-1, 0]]
    assert set_labels(SETS)[1] == [[0, 1], [0]]


def test_summary_counts_by_hand() -> None:
    y = np.array([[0, 1], [1, 0], [0, 0], [1, 0]])  # ECG 2 is kept but wrong on class 0
    s = conformal_summary(SETS, y, np.arange(4), alpha=0.1, class_names=["a", "b"], n_boot=200)
    assert s.n_kept == 2 and s.kept.point == 0.5 and s.abstention == 0.5
    assert s.error_kept.point == 0.5
    # class a covered on ECGs 0, 1 (both labels in set); not on 2 (y=0, set {1}), not 3 (empty)
    assert s.classes[0].coverage.point == 0.5 and s.classes[1].coverage.point == 1.0
    assert s.classes[0].below_target and not s.classes[1].below_target
    assert s.flagged == ["a"]
    assert s.classes[0].coverage.lo <= 0.5 <= s.classes[0].coverage.hi


def test_bootstrap_resamples_patients_not_records() -> None:
    """Two records per patient, identical: the CI equals the one-record-per-patient CI."""
    rng = np.random.default_rng(0)
    y = (rng.random((60, 1)) < 0.4).astype(int)
    sets = np.stack([rng.random((60, 1)) < 0.7, rng.random((60, 1)) < 0.7], axis=2)
    one = conformal_summary(sets, y, np.arange(60), 0.1, ["a"], n_boot=300)
    two = conformal_summary(np.repeat(sets, 2, axis=0), np.repeat(y, 2, axis=0),
                            np.repeat(np.arange(60), 2), 0.1, ["a"], n_boot=300)
    assert one.classes[0].coverage == two.classes[0].coverage
    assert two.n_patients == 60 and two.n == 120


def test_subgroup_with_shifted_scores_is_flagged() -> None:
    """Calibrated on exchangeable data; in subgroup 'paced' the scores are pushed towards
    the wrong label, so its coverage drops below 1 - alpha - margin and is flagged, while
    the other subgroup keeps its coverage."""
    rng = np.random.default_rng(5)
    y = (rng.random((4000, 1)) < 0.3).astype(int)
    p = np.where(y == 1, rng.beta(4, 2, y.shape), rng.beta(2, 4, y.shape))
    calib = calibrate_conformal(p[:2000], y[:2000], np.arange(2000), 0.1, ["MI"])
    paced = np.r_[np.zeros(1000, bool), np.ones(1000, bool)]
    p_te = p[2000:].copy()
    p_te[paced] = np.clip(p_te[paced] + np.where(y[2000:][paced] == 1, -0.3, 0.3), 0, 1)
    sets = prediction_sets(calib, p_te)
    rows = subgroup_conformal(sets, y[2000:], np.arange(2000), np.where(paced, "yes", "no"),
                              "paced", 0.1, ["MI"], n_boot=200)
    by = {r.subgroup: r for r in rows}
    assert by["paced=yes"].flagged == ["MI"]
    assert by["paced=no"].flagged == []
    assert by["paced=no"].classes[0].coverage.point > 0.86


def test_missing_subgroup_values_form_their_own_row() -> None:
    y = np.zeros((4, 2), int)
    sex = np.array([None, "F", np.nan, "F"], dtype=object)
    rows = subgroup_conformal(SETS, y, np.arange(4), sex, "sex", 0.1, ["a", "b"], n_boot=50)
    assert [r.subgroup for r in rows] == ["sex=(missing)", "sex=F"]


def test_shape_errors_are_named() -> None:
    with pytest.raises(ConformalError, match=r"sets: expected shape \(N, C, 2\)"):
        kept_and_decisions(np.zeros((3, 2), bool))
    with pytest.raises(ConformalError, match="y: expected labels of shape"):
        conformal_summary(SETS, np.zeros((4, 3), int), np.arange(4), 0.1, ["a", "b"])
    with pytest.raises(ConformalError, match="subgroup 'sex'"):
        subgroup_conformal(SETS, np.zeros((4, 2), int), np.arange(4), ["F"], "sex", 0.1,
                           ["a", "b"])
