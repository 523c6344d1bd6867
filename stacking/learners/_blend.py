"""Blending meta-learners: a convex combination of members' scores for ONE class.

Column-layout contract: every column of X is one member's score for the same
class (probability, logit or ECDF rank); the fitted state is a weight per column.
These learners are binary-only (multi-label stacks use one per class, see
:class:`stacking.StackModel`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from stacking.metrics import binary_auc, binary_log_loss

if TYPE_CHECKING:
    from optuna.trial import BaseTrial

__all__ = ["BestSingle", "GreedyEnsembleSelection", "MeanStacker", "WeightedStacker"]

_LINKS = ("identity", "logit")


class _Blender(ClassifierMixin, BaseEstimator):
    """Shared fit/predict of a weighted mean of columns; subclasses set ``weights_``.

    ``link="identity"``: columns are probabilities or ranks in [0, 1] and the
    blend is clipped to [0, 1]; ``link="logit"``: columns are log-odds and the
    blend goes through the logistic function.
    """

    link: str

    @staticmethod
    def suggest_params(trial: BaseTrial) -> dict[str, Any]:
        """The learner's search space: none (a fixed recipe)."""
        return {}

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _validate_fit(self, X: Any, y: Any) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if self.link not in _LINKS:
            raise ValueError(f"{type(self).__name__}.link must be one of {_LINKS}, "
                             f"got {self.link!r}")
        self.classes_ = np.unique(y)
        if self.classes_.size > 2:
            raise ValueError(f"{type(self).__name__}: Only binary classification is supported; "
                             f"got {self.classes_.size} classes. Use one per class (StackModel).")
        if self.classes_.size < 2:
            raise ValueError(f"{type(self).__name__}: y has one class; need 2 classes")
        return X, y == self.classes_[1]

    def _to_proba(self, s: NDArray[np.float64]) -> NDArray[np.float64]:
        return expit(s) if self.link == "logit" else np.clip(s, 0.0, 1.0)

    def blend(self, X: Any) -> NDArray[np.float64]:
        """(n,) blended score ``X @ weights_`` on the columns' own scale."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ self.weights_

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """(n,) score, positive where :meth:`predict` says ``classes_[1]``."""
        s = self.blend(X)
        return s if self.link == "logit" else s - 0.5

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """(n, 2) probabilities of ``classes_``."""
        p = self._to_proba(self.blend(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> NDArray:
        """(n,) class: ``classes_[1]`` where the blend is >= 0.5 (probability scale)."""
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] >= 0.5).astype(int)]

    def get_state(self) -> dict[str, Any]:
        check_is_fitted(self)
        return {"classes": self.classes_.tolist(), "weights": self.weights_.tolist(),
                "n_features_in": self.n_features_in_}

    def set_state(self, state: dict[str, Any]) -> _Blender:
        self.classes_ = np.asarray(state["classes"])
        self.weights_ = np.asarray(state["weights"], dtype=np.float64)
        self.n_features_in_ = int(state["n_features_in"])
        return self


class MeanStacker(_Blender):
    """Equal-weight mean of the columns (with rank inputs: the rank mean)."""

    def __init__(self, link: str = "identity") -> None:
        self.link = link

    def fit(self, X: Any, y: Any) -> MeanStacker:
        X, _ = self._validate_fit(X, y)
        self.weights_ = np.full(X.shape[1], 1.0 / X.shape[1])
        return self


class WeightedStacker(_Blender):
    """Non-negative weights summing to 1, fitted for AUC or log-loss.

    ``objective="log_loss"`` minimises the cross-entropy of the blend;
    ``objective="auc"`` minimises a pairwise logistic surrogate of 1-AUC on up
    to ``max_pairs`` sampled positive/negative pairs (hand-written: no library
    fits simplex weights for AUC). Weights are a softmax of free parameters,
    optimised with L-BFGS.
    """

    def __init__(self, objective: str = "auc", link: str = "identity",
                 max_pairs: int = 100_000, random_state: int | None = None) -> None:
        self.objective = objective
        self.link = link
        self.max_pairs = max_pairs
        self.random_state = random_state

    @staticmethod
    def suggest_params(trial: BaseTrial) -> dict[str, Any]:
        """The learner's search space (plain Python over an Optuna trial)."""
        return {"objective": trial.suggest_categorical("w_objective", ["auc", "log_loss"])}

    def fit(self, X: Any, y: Any) -> WeightedStacker:
        X, yb = self._validate_fit(X, y)
        if self.objective not in ("auc", "log_loss"):
            raise ValueError(f"WeightedStacker.objective must be 'auc' or 'log_loss', "
                             f"got {self.objective!r}")
        d = X.shape[1]
        if self.objective == "auc":
            rng = np.random.default_rng(self.random_state)
            pos, neg = np.flatnonzero(yb), np.flatnonzero(~yb)
            n_pairs = min(self.max_pairs, pos.size * neg.size)
            diff = X[rng.choice(pos, n_pairs)] - X[rng.choice(neg, n_pairs)]  # (P, d)
            tau = max(float(np.mean(np.std(X, axis=0))) * 0.1, 1e-6)

            def loss(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
                w = softmax(theta)
                m = diff @ w / tau
                val = float(np.mean(np.logaddexp(0.0, -m)))
                g_w = -(diff.T @ expit(-m)) / (tau * m.size)
                return val, w * (g_w - w @ g_w)
        else:
            yf = yb.astype(np.float64)

            def loss(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
                w = softmax(theta)
                s = X @ w
                if self.link == "logit":
                    p = expit(s)
                    g_s = p - yf
                else:
                    p = np.clip(s, 1e-6, 1.0 - 1e-6)
                    g_s = (p - yf) / (p * (1.0 - p))
                    g_s[(s <= 1e-6) | (s >= 1.0 - 1e-6)] = 0.0
                g_w = X.T @ g_s / s.size
                return binary_log_loss(yf, p, eps=1e-6), w * (g_w - w @ g_w)

        res = minimize(loss, np.zeros(d), jac=True, method="L-BFGS-B")
        self.weights_ = softmax(res.x)
        return self


class GreedyEnsembleSelection(_Blender):
    """Caruana et al. (2004) forward selection with replacement.

    Starts from the best single column, then ``n_iter`` times adds the column
    (repeats allowed) whose inclusion gives the best metric of the running
    mean; keeps the weights (counts / total) of the best iteration seen.
    ``path_`` records every step as ``(column added, metric after it)`` and
    ``best_step_`` the step whose weights were kept (0-based).
    """

    def __init__(self, n_iter: int = 20, metric: str = "auc", link: str = "identity") -> None:
        self.n_iter = n_iter
        self.metric = metric
        self.link = link

    @staticmethod
    def suggest_params(trial: BaseTrial) -> dict[str, Any]:
        """The learner's search space (plain Python over an Optuna trial)."""
        return {"n_iter": trial.suggest_int("greedy_n_iter", 5, 30, log=True),
                "metric": trial.suggest_categorical("greedy_metric", ["auc", "log_loss"])}

    def _score(self, yb: NDArray[np.bool_], s: NDArray[np.float64]) -> float:
        if self.metric == "auc":
            return binary_auc(yb, s)
        return -binary_log_loss(yb, self._to_proba(s))

    def fit(self, X: Any, y: Any) -> GreedyEnsembleSelection:
        X, yb = self._validate_fit(X, y)
        if self.metric not in ("auc", "log_loss"):
            raise ValueError(f"GreedyEnsembleSelection.metric must be 'auc' or 'log_loss', "
                             f"got {self.metric!r}")
        if int(self.n_iter) < 1:
            raise ValueError(f"GreedyEnsembleSelection.n_iter must be >= 1, got {self.n_iter}")
        d = X.shape[1]
        counts = np.zeros(d)
        total = np.zeros(X.shape[0])
        best_score, best_counts = -np.inf, counts
        path: list[tuple[int, float]] = []
        self.best_step_ = 0
        for step in range(int(self.n_iter) + 1):
            n = counts.sum()
            scores = [self._score(yb, (total + X[:, j]) / (n + 1)) for j in range(d)]
            j = int(np.nanargmax(scores)) if np.isfinite(scores).any() else 0
            counts = counts.copy()
            counts[j] += 1
            total = total + X[:, j]
            path.append((j, float(scores[j])))
            if scores[j] > best_score:
                best_score, best_counts, self.best_step_ = scores[j], counts, step
        self.weights_ = best_counts / best_counts.sum()
        self.score_ = float(best_score)
        self.path_ = path
        return self


class BestSingle(_Blender):
    """The single column with the best AUC on the fitting data (weight 1, others 0)."""

    def __init__(self, link: str = "identity") -> None:
        self.link = link

    def fit(self, X: Any, y: Any) -> BestSingle:
        X, yb = self._validate_fit(X, y)
        aucs = np.array([binary_auc(yb, X[:, j]) for j in range(X.shape[1])])
        self.weights_ = np.zeros(X.shape[1])
        self.weights_[int(np.nanargmax(aucs)) if np.isfinite(aucs).any() else 0] = 1.0
        return self
