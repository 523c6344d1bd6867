"""Apportion a stack's score to its level-1 columns, members and tabular passthrough.

Each class's meta-learner score is split into additive contributions of the columns
it reads plus a bias, exactly (the contributions and the bias sum to the score):

- logistic: ``coef_i * (x_i - mean_i) / scale_i`` on the log-odds; the bias is the
  intercept, i.e. a column contributes relative to its development mean. With the
  ``logit`` transform ``x_i`` is the member's log-odds, with ``rank`` its ECDF rank
  in [0, 1], with ``prob`` its probability: the decomposition is linear in the
  *transformed* score, not in the member's probability.
- LightGBM: TreeSHAP (``Booster.predict(pred_contrib=True)``) on the raw log-odds;
  the bias is the expected raw score over the training rows.
- blends (mean, weighted, greedy, best single): ``w_i * x_i`` on the columns' own
  scale (log-odds with the logit link, else probability or rank); bias 0.

The score is the meta-learner's, before the stack's calibrator (a monotone map per
class). Contributions say how the learner combined these inputs on this record;
they do not say what the output would be had a member been left out (the learner
was fitted with it), nor anything causal about the ECG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stacking.learners import LightGBMStacker, LogisticStacker
from stacking.learners._blend import _Blender
from stacking.model import FittedStack, stack_features

__all__ = ["ClassContributions", "member_shares", "stack_contributions"]


@dataclass(frozen=True)
class ClassContributions:
    """One class: ``values`` (N, D) per column of ``columns``, ``bias`` (N,), on ``scale``."""

    name: str
    columns: list[str]
    values: NDArray[np.float64]
    bias: NDArray[np.float64]
    scale: str  # "log-odds", "probability", "rank" or "constant"
    method: str

    @property
    def score(self) -> NDArray[np.float64]:
        """(N,) the learner's raw score, ``bias + values.sum(axis=1)``."""
        return self.bias + self.values.sum(axis=1)


def _decompose(est: object, X: NDArray[np.float64], transform: str
               ) -> tuple[NDArray[np.float64], NDArray[np.float64], str, str]:
    n = X.shape[0]
    if isinstance(est, LogisticStacker):
        coef = np.asarray(est.coef_, np.float64).ravel()
        z = (X - est.mean_) / est.scale_
        vals = np.where(np.isfinite(z), z, 0.0) * coef
        return vals, np.full(n, float(np.ravel(est.intercept_)[0])), "log-odds", \
            "coefficients on standardised transformed scores (relative to the development mean)"
    if isinstance(est, LightGBMStacker):
        raw = np.asarray(est.booster_.predict(X, pred_contrib=True), np.float64)
        return raw[:, :-1], raw[:, -1], "log-odds", "LightGBM pred_contrib (TreeSHAP)"
    if isinstance(est, _Blender):
        scale = "log-odds" if est.link == "logit" else ("rank" if transform == "rank"
                                                          else "probability")
        return X * est.weights_, np.zeros(n), scale, "blend weights x transformed scores"
    if isinstance(est, float):
        return np.zeros_like(X), np.full(n, est), "constant", "constant prevalence"
    raise TypeError(f"stack_contributions: no decomposition for {type(est).__name__}")


def stack_contributions(fitted: FittedStack, preds: Mapping[str, NDArray[np.floating]],
                        tabular: NDArray[np.floating] | None = None
                        ) -> list[ClassContributions]:
    """Per-class additive contributions for ONE level-0 set.

    Args:
        preds: member -> (N, C) probabilities of every member of the stack.
        tabular: (N, F) passthrough values in ``fitted.tabular_names`` order, if any.
    """
    X, names = stack_features(preds, fitted.spec, fitted.class_names, fitted.rank_state,
                              tabular, fitted.tabular_names)
    out = []
    for j, name in enumerate(fitted.class_names):
        cols = fitted.model.columns_[j]
        est = fitted.model.estimators_[j]
        vals, bias, scale, method = _decompose(est, X[:, cols], fitted.spec.transform)
        out.append(ClassContributions(name, [names[i] for i in cols], vals, bias, scale,
                                      method))
    return out


def member_shares(contrib: ClassContributions, members: list[str]
                  ) -> dict[str, NDArray[np.float64]]:
    """(N,) summed contribution of each member's columns, and of ``"tabular"`` passthrough."""
    shares = {m: np.zeros(contrib.values.shape[0]) for m in [*members, "tabular"]}
    for i, col in enumerate(contrib.columns):
        owner = col.split(":", 1)[0]
        shares["tabular" if owner == "tabular" else owner] += contrib.values[:, i]
    return shares
