"""Level-1 data with planted members for the diversity tests (stacking and report).

Imported as ``from planted_members import planted`` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from stacking import Level1Data


def planted(n_dev: int = 1200, seed: int = 0, k: int = 4) -> Level1Data:
    """Binary task, truth logit 2 * (z1 + z2); patients of two records, ``k`` grouped folds.

    ``a`` sees z1 (plus noise), ``a_copy`` is ``a`` plus a little noise (a near-duplicate),
    ``b`` sees z2 (complementary: no other member carries it).
    """
    rng = np.random.default_rng(seed)
    z1, z2 = rng.normal(size=(2, n_dev))
    y = (rng.random(n_dev) < expit(2.0 * (z1 + z2))).astype(np.int64)[:, None]
    a = 1.5 * z1 + 0.5 * rng.normal(size=n_dev)
    logits = {"a": a, "a_copy": a + 0.05 * rng.normal(size=n_dev),
              "b": 1.5 * z2 + 0.5 * rng.normal(size=n_dev)}
    groups = np.repeat(np.arange(n_dev), 2)[:n_dev]
    folds = rng.permutation(np.arange(groups.max() + 1) % k)[groups]
    return Level1Data(members=list(logits), class_names=["x"],
                      oof={m: expit(v)[:, None] for m, v in logits.items()},
                      test_by_fold={m: np.full((k, 3, 1), 0.5) for m in logits},
                      y=y, groups=groups, folds=folds)
