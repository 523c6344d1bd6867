"""Level-1 features, rank ECDF and the fast metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from stacking import RankState, binary_auc, binary_log_loss, build_meta_features, macro_auc


def _preds(n: int = 50, c: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.random((n, c)), "y": rng.random((n, c))}


def test_columns_named_member_class_and_tabular() -> None:
    p = _preds()
    tab = np.column_stack([np.arange(50.0), np.full(50, np.nan)])
    X, names = build_meta_features(p, ["y", "x"], ["MI", "NORM"], "prob", tabular=tab,
                                   tabular_names=["age", "sex"])
    assert names == ["y:MI", "y:NORM", "x:MI", "x:NORM", "tabular:age", "tabular:sex"]
    assert X.shape == (50, 6)
    np.testing.assert_array_equal(X[:, 2], p["x"][:, 0])
    assert np.isnan(X[:, 5]).all()


def test_binary_task_has_one_column_per_member_and_logit() -> None:
    p = {"a": np.array([[0.5], [0.9], [0.0]]), "b": np.array([[0.1], [0.2], [1.0]])}
    X, names = build_meta_features(p, ["a", "b"], ["AF"], "logit")
    assert names == ["a:AF", "b:AF"]
    np.testing.assert_allclose(X[:2, 0], [0.0, np.log(9.0)])
    assert np.isfinite(X).all() and X[2, 0] < -13 and X[2, 1] > 13


def test_rank_single_record_equals_batch_and_json_roundtrip() -> None:
    dev = _preds(n=2000, seed=1)
    rs = RankState.fit(dev, ["x", "y"], ["A", "B"], n_knots=64)
    rs2 = RankState.from_dict(json.loads(json.dumps(rs.to_dict())))
    new = _preds(n=30, seed=2)
    batch, _ = build_meta_features(new, ["x", "y"], ["A", "B"], "rank", rs)
    for i in range(30):
        one, _ = build_meta_features({m: v[i:i + 1] for m, v in new.items()}, ["x", "y"],
                                     ["A", "B"], "rank", rs2)
        np.testing.assert_array_equal(one[0], batch[i])
    # the ECDF of uniform development values is close to the identity and monotone
    assert np.abs(batch[:, 0] - new["x"][:, 0]).max() < 0.06
    order = np.argsort(new["x"][:, 0])
    assert np.all(np.diff(batch[order, 0]) >= 0)


def test_rank_requires_state_and_bad_inputs_raise() -> None:
    p = _preds()
    with pytest.raises(ValueError, match="rank_state"):
        build_meta_features(p, ["x"], ["A", "B"], "rank")
    with pytest.raises(ValueError, match="transform"):
        build_meta_features(p, ["x"], ["A", "B"], "softmax")
    with pytest.raises(ValueError, match="no predictions for member 'z'"):
        build_meta_features(p, ["z"], ["A", "B"], "prob")
    with pytest.raises(ValueError, match=r"must be \(N, 3\)"):
        build_meta_features(p, ["x"], ["A", "B", "C"], "prob")


def test_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, (300, 3))
    s = np.round(rng.random((300, 3)) + 0.3 * y, 2)  # rounding creates ties
    for j in range(3):
        assert binary_auc(y[:, j], s[:, j]) == pytest.approx(roc_auc_score(y[:, j], s[:, j]))
    assert macro_auc(y, s) == pytest.approx(roc_auc_score(y, s, average="macro"))
    p = np.clip(s, 0.01, 0.99)
    assert binary_log_loss(y[:, 0], p[:, 0]) == pytest.approx(log_loss(y[:, 0], p[:, 0]))
    assert np.isnan(binary_auc(np.zeros(5), np.arange(5.0)))
    smooth = rng.random(500)  # no ties: the sort-position fast path
    y1 = (rng.random(500) < smooth).astype(int)
    assert binary_auc(y1, smooth) == pytest.approx(roc_auc_score(y1, smooth), abs=1e-12)
