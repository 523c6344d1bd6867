"""ROC AUC / AP vs scikit-learn; vectorised patient bootstrap vs a naive loop."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from ensembler.errors import PredictionsError
from ensembler.evaluation import (
    average_precision,
    bootstrap_p_value,
    cluster_bootstrap,
    paired_bootstrap_delta,
    patient_weights,
    roc_auc,
    weighted_auc,
)


def _data(n: int = 300, c: int = 3, seed: int = 0, ties: bool = True):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, c)) < 0.3).astype(np.uint8)
    p = 1 / (1 + np.exp(-(1.2 * y + rng.normal(size=(n, c)))))
    if ties:
        p = np.round(p, 2)  # many tied scores
    groups = rng.integers(0, n // 3, size=n)  # ~3 records per patient
    return y, p, groups


def test_roc_auc_and_ap_match_sklearn_and_skip_degenerate_class():
    y, p, _ = _data()
    y[:, 2] = 0  # no positives: skipped, and said so
    auc = roc_auc(y, p)
    ap = average_precision(y, p)
    for c in range(2):
        assert auc.per_class[c] == pytest.approx(roc_auc_score(y[:, c], p[:, c]), abs=1e-12)
        assert ap.per_class[c] == pytest.approx(average_precision_score(y[:, c], p[:, c]))
    assert auc.skipped == (2,) and np.isnan(auc.per_class[2])
    assert auc.macro == pytest.approx(roc_auc_score(y[:, :2], p[:, :2], average="macro"))


def test_weighted_auc_matches_sklearn_sample_weight():
    y, p, _ = _data(200, 2, seed=1)
    w = np.random.default_rng(2).integers(0, 4, size=(5, 200)).astype(float)
    got = weighted_auc(y, p, w)
    for b in range(5):
        for c in range(2):
            ref = roc_auc_score(y[:, c], p[:, c], sample_weight=w[b])
            assert got[b, c] == pytest.approx(ref, abs=1e-12)


def test_patient_weights_resample_whole_patients():
    groups = np.array(["a", "a", "b", "c", "c", "c"])
    w = patient_weights(groups, n_boot=50, seed=3)
    assert w.shape == (50, 6)
    # rows of one patient always share a weight; G patients drawn per resample
    assert (w[:, 0] == w[:, 1]).all() and (w[:, 3] == w[:, 5]).all()
    assert (w[:, [0, 2, 3]].sum(axis=1) == 3).all()
    assert np.array_equal(w, patient_weights(groups, n_boot=50, seed=3))
    assert not np.array_equal(w, patient_weights(groups, n_boot=50, seed=4))


def test_vectorised_bootstrap_equals_naive_patient_loop():
    y, p, groups = _data(240, 3, seed=5)
    n_boot, seed = 60, 11
    res = cluster_bootstrap(y, p, groups, n_boot=n_boot, seed=seed)
    # naive loop: rebuild each resample by drawing patients with replacement
    # (the same draws: identical generator calls) and concatenating their rows
    uniq, codes = np.unique(groups, return_inverse=True)
    g = uniq.size
    draws = np.random.default_rng(seed).integers(0, g, size=(n_boot, g))
    rows_of = [np.flatnonzero(codes == k) for k in range(g)]
    naive = []
    for b in range(n_boot):
        idx = np.concatenate([rows_of[k] for k in draws[b]])
        yb, pb = y[idx], p[idx]
        if (yb.sum(0) == 0).any() or (yb.sum(0) == len(idx)).any():
            naive.append(np.nan)
            continue
        naive.append(roc_auc_score(yb, pb, average="macro"))
    np.testing.assert_allclose(res.samples, np.array(naive), atol=1e-12)
    assert res.point == pytest.approx(roc_auc_score(y, p, average="macro"), abs=1e-12)
    assert res.lo < res.point < res.hi


def test_bootstrap_ci_covers_and_narrows_with_more_patients():
    y, p, g = _data(200, 1, seed=7, ties=False)
    y2, p2, g2 = _data(2000, 1, seed=7, ties=False)
    small = cluster_bootstrap(y, p, g, n_boot=300, seed=0)
    large = cluster_bootstrap(y2, p2, g2, n_boot=300, seed=0)
    assert (large.hi - large.lo) < (small.hi - small.lo)


def test_cluster_bootstrap_is_wider_than_record_bootstrap_with_duplicated_patients():
    # every patient contributes 5 identical ECGs: a record bootstrap would be too narrow
    y, p, _ = _data(100, 1, seed=8, ties=False)
    yy, pp = np.repeat(y, 5, axis=0), np.repeat(p, 5, axis=0)
    patients = np.repeat(np.arange(100), 5)
    clustered = cluster_bootstrap(yy, pp, patients, n_boot=400, seed=0)
    records = cluster_bootstrap(yy, pp, np.arange(500), n_boot=400, seed=0)
    assert (clustered.hi - clustered.lo) > 1.6 * (records.hi - records.lo)


def test_paired_delta_detects_better_model_and_null():
    rng = np.random.default_rng(9)
    n = 600
    y = (rng.random((n, 2)) < 0.4).astype(int)
    groups = np.repeat(np.arange(n // 2), 2)
    good = y * 1.5 + rng.normal(size=(n, 2))
    bad = y * 0.5 + rng.normal(size=(n, 2))
    d = paired_bootstrap_delta(y, good, bad, groups, n_boot=500, seed=0)
    ref = roc_auc_score(y, good) - roc_auc_score(y, bad)
    assert d.delta == pytest.approx(ref, abs=1e-12)
    assert d.lo > 0 and d.p_value < 0.01
    same = paired_bootstrap_delta(y, good, good, groups, n_boot=200, seed=0)
    assert same.delta == 0 and same.p_value == 1.0


def test_bootstrap_p_value_tails():
    assert bootstrap_p_value(np.full(99, 0.1)) == pytest.approx(2 / 100)
    assert bootstrap_p_value(np.r_[np.full(50, -1.0), np.full(50, 1.0)]) == 1.0


def test_bad_inputs_name_the_argument():
    y, p, g = _data(50, 2)
    with pytest.raises(PredictionsError, match="p: expected scores of shape"):
        roc_auc(y, p[:, :1])
    with pytest.raises(PredictionsError, match="groups"):
        cluster_bootstrap(y, p, g[:10])
    p_nan = p.copy()
    p_nan[3, 1] = np.nan
    with pytest.raises(PredictionsError, match="NaN"):
        roc_auc(y, p_nan)
    with pytest.raises(ValueError, match="metric"):
        cluster_bootstrap(y, p, g, metric="accuracy")


def test_one_roc_auc_everywhere_bit_for_bit():
    """The report, the trainer and the stacker score AUC with one function: equal AUCs
    are equal bit for bit (scikit-learn's trapezoid sum can differ in the last bits, which
    could flip a choice between two equally good models), and the bootstrap's weighted AUC
    with unit weights is the same number."""
    from pathlib import Path

    from ensembler.training.metrics import macro_auc
    from stacking.metrics import binary_auc
    from stacking.metrics import macro_auc as stacking_macro_auc

    y, p, _ = _data(n=700, c=3, seed=4, ties=False)
    exact = [binary_auc(y[:, c], p[:, c]) for c in range(3)]
    assert any(e != roc_auc_score(y[:, c], p[:, c]) for c, e in enumerate(exact))  # last bits
    assert roc_auc(y, p).per_class.tolist() == exact
    assert macro_auc(y, p) == stacking_macro_auc(y, p) == roc_auc(y, p).macro
    assert weighted_auc(y, p, np.ones((1, len(y))))[0].tolist() == exact
    root = Path(__file__).resolve().parents[2]
    users = [f for pkg in ("ensembler", "stacking", "base_models")
             for f in (root / pkg).rglob("*.py") if "import roc_auc_score" in f.read_text()]
    assert users == []  # no second implementation behind the one above
