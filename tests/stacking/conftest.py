"""Synthetic level-1 data with planted complementary signal (shared by the stacking tests)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.special import expit

from stacking import Level1Data


def make_level1(n_dev: int = 600, n_test: int = 400, n_classes: int = 1, k: int = 4,
                seed: int = 0, tabular: bool = False) -> tuple[Level1Data, np.ndarray]:
    """Members 'a' and 'b' each see one half of the signal, 'c' is a weak noisy view.

    Per class j: truth logit = 2.5 * (z1_j + z2_j); member a sees z1_j, member b sees
    z2_j (plus noise), member c sees 0.3 * (z1_j + z2_j) under heavy noise. Rows come
    in patients of 1-2 records; folds are patient-grouped. Returns the data and the
    (N_test, C) test labels.
    """
    rng = np.random.default_rng(seed)
    n = n_dev + n_test
    z1 = rng.normal(size=(n, n_classes))
    z2 = rng.normal(size=(n, n_classes))
    age = rng.normal(60, 12, size=n)
    y = (rng.random((n, n_classes)) < expit(2.5 * (z1 + z2) - 0.3)).astype(np.int64)

    def member(view: np.ndarray, noise: float, fold_noise: float) -> tuple[np.ndarray, ...]:
        base = view + noise * rng.normal(size=view.shape)
        oof = expit(base[:n_dev])
        by_fold = np.stack([expit(base[n_dev:] + fold_noise * rng.normal(size=(n_test,
                                                                                 n_classes)))
                            for _ in range(k)])
        return oof, by_fold

    views = {"a": member(1.5 * z1, 0.4, 0.1), "b": member(1.5 * z2, 0.4, 0.1),
             "c": member(0.3 * (z1 + z2), 1.5, 0.1)}
    groups = np.repeat(np.arange(n_dev), 2)[:n_dev]  # patients of two records
    patient_fold = rng.permutation(np.arange(groups.max() + 1) % k)
    data = Level1Data(
        members=list(views),
        class_names=[f"c{j}" for j in range(n_classes)],
        oof={m: v[0] for m, v in views.items()},
        test_by_fold={m: v[1] for m, v in views.items()},
        y=y[:n_dev],
        groups=groups,
        folds=patient_fold[groups],
        tabular_dev=np.column_stack([age[:n_dev], np.where(rng.random(n_dev) < 0.1, np.nan,
                                                           rng.integers(0, 2, n_dev))])
        if tabular else None,
        tabular_test=np.column_stack([age[n_dev:], rng.integers(0, 2, n_test)]).astype(float)
        if tabular else None,
        tabular_names=["age", "sex"] if tabular else [],
        member_cost_ms={"a": 5.0, "b": 20.0, "c": 1.0},
    )
    return data, y[n_dev:]


@pytest.fixture
def level1() -> Callable[..., tuple[Level1Data, np.ndarray]]:
    return make_level1
