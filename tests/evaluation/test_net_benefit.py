"""Decision-curve net benefit against a hand count."""

from __future__ import annotations

import numpy as np
import pytest

from ensembler.evaluation.net_benefit import net_benefit, treat_all_net_benefit


def test_net_benefit_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.3, 0.6, 0.2, 0.1])
    nb = net_benefit(y, p, [0.25, 0.5])
    # pt = 0.25: treat p >= 0.25 -> rows 0, 1, 2: TP 2, FP 1 -> 2/5 - 1/5 * (1/3)
    # pt = 0.5: rows 0, 2: TP 1, FP 1 -> 1/5 - 1/5 * 1
    np.testing.assert_allclose(nb[:, 0], [0.4 - 0.2 / 3, 0.0])
    np.testing.assert_allclose(treat_all_net_benefit(y, [0.25])[:, 0], [0.4 - 0.6 / 3])


def test_perfect_model_reaches_prevalence_and_thresholds_are_checked() -> None:
    y = np.array([[1, 0], [0, 1], [0, 0], [1, 1]])
    nb = net_benefit(y, y.astype(float), [0.1, 0.3])
    np.testing.assert_allclose(nb, np.tile(y.mean(axis=0), (2, 1)))
    with pytest.raises(ValueError, match="thresholds"):
        net_benefit(y, y.astype(float), [0.0, 0.5])
