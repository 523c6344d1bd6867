"""The logistic learner of feature members: per-fold imputation and scaling, one L2 model per
class, stored as JSON and predicted by one numpy function (equal to scikit-learn's)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from toydata import make_cohort, make_split

from ensembler.config import RunConfig
from ensembler.errors import BundleIntegrityError
from ensembler.training.feature_learners import (
    LogisticModel,
    fit_learner,
    fit_logistic,
    read_learner,
    write_learner,
)
from ensembler.training.feature_member import train_feature_member
from ensembler.training.metrics import macro_auc


def _data(n: int = 200, f: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f)) * [1, 10, 0.1, 1, 1, 1] + [0, 50, 0, 0, 0, 0]
    y = np.stack([(x[:, 0] + rng.normal(size=n) > 0), (x[:, 1] > 50)], axis=1).astype(np.uint8)
    x[rng.random((n, f)) < 0.15] = np.nan
    x[:, 5] = np.nan  # never measured
    return x, y


def test_fit_uses_training_rows_only_and_matches_sklearn() -> None:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _data()
    rows = np.arange(120)
    x_shift = x.copy()
    x_shift[120:] += 100.0  # rows outside the training part must not move any statistic
    m = fit_logistic(x_shift, y, rows, C=0.5, max_iter=2000)
    assert np.allclose(m.medians[:5], np.nanmedian(x[rows, :5], axis=0))
    assert m.medians[5] == 0.0 and m.scales[5] == 1.0  # all-missing column: no NaN state
    for c in range(2):
        ref = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                            LogisticRegression(C=0.5, max_iter=2000)).fit(x[rows], y[rows, c])
        want = ref.predict_proba(x[120:])[:, 1]
        assert np.max(np.abs(m.predict(x_shift[120:] - 100.0)[:, c] - want)) < 1e-6


def test_json_round_trip_is_exact_and_checked(tmp_path: Path) -> None:
    x, y = _data()
    m = fit_logistic(x, y, np.arange(150), C=1.0, max_iter=2000)
    write_learner(m, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["logistic.json"]
    back = read_learner(tmp_path, "logistic", x.shape[1], 2)
    assert isinstance(back, LogisticModel)
    assert np.array_equal(back.predict(x), m.predict(x))
    with pytest.raises(BundleIntegrityError, match="do not fit 7 columns"):
        read_learner(tmp_path, "logistic", 7, 2)
    (tmp_path / "logistic.json").write_text('{"format": "other"}')
    with pytest.raises(BundleIntegrityError, match="not a logistic feature model"):
        read_learner(tmp_path, "logistic", x.shape[1], 2)


def test_single_class_gets_its_prevalence() -> None:
    x, y = _data()
    y[:, 1] = 0
    m = fit_logistic(x, y, np.arange(100), C=1.0, max_iter=100)
    assert np.all(m.coef[1] == 0) and np.all(m.predict(x)[:, 1] < 1e-5)


def test_logistic_member_uses_the_whole_training_part(tmp_path: Path) -> None:
    cohort = make_cohort(n_patients=40, per_patient=2)
    split = make_split(cohort, k=3, test_patients=8)
    cfg = RunConfig.model_validate({"seed": 3, "feature_members": [
        {"name": "lr", "learner": "logistic", "logistic": {"C": 0.3}}]})
    entry = cfg.feature_members[0]
    preds = train_feature_member(entry, cfg, cohort, split.fold, split.fingerprint, tmp_path,
                                 ["age", "sex"])
    dev = split.fold >= 0
    assert macro_auc(cohort.labels[dev], preds.oof) > 0.8
    fold0 = tmp_path / "base" / "lr" / "fold_0"
    assert sorted(p.name for p in fold0.iterdir()) == ["logistic.json", "meta.json",
                                                       "preds.npz", "stage.json"]
    assert preds.meta.learner == "logistic" and preds.meta.n_params > 0
    # imputation state fitted on fold 0's whole training part (no early stopping, so the
    # inner validation rows are used too), never on its OOF or test rows
    from ensembler.features import create_feature_set
    from ensembler.features.compute import compute_features
    from ensembler.training.feature_member import feature_matrix

    table = compute_features(create_feature_set("ecg_clinical"), cohort, tmp_path / "features",
                             1, False)
    x, _ = feature_matrix(entry, table, cohort, ["age", "sex"])
    train_part = np.flatnonzero(dev & (split.fold != 0))
    model = read_learner(fold0, "logistic", x.shape[1], 1)
    assert isinstance(model, LogisticModel)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nan_to_num(np.nanmedian(x[train_part], axis=0), nan=0.0)
    assert np.allclose(model.medians, want)
    assert np.allclose(model.means[-2:], np.nanmean(
        np.where(np.isnan(x[train_part]), want, x[train_part])[:, -2:], axis=0))
    inner_only = fit_learner(entry, x, cohort.labels, train_part[::2], train_part[:0], 0, [])
    assert isinstance(inner_only, LogisticModel)
    assert not np.allclose(inner_only.medians, model.medians)
