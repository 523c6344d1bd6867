"""Logistic-regression meta-learner with internal standardisation and JSON state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

if TYPE_CHECKING:
    from optuna.trial import BaseTrial

__all__ = ["LogisticStacker"]

_L1_RATIO = {"l2": 0.0, "l1": 1.0}


class LogisticStacker(ClassifierMixin, BaseEstimator):
    """Regularised logistic regression on level-1 features.

    Features are standardised with the training mean and standard deviation;
    NaN (missing tabular passthrough) is imputed with the training mean, so the
    penalty treats every column alike and one record predicts the same alone as
    in a batch. The fitted state is plain arrays (``mean_``, ``scale_``,
    ``coef_``, ``intercept_``), serialisable as JSON.

    Args:
        penalty: ``"l2"``, ``"l1"`` or ``"elasticnet"``.
        C: inverse regularisation strength.
        l1_ratio: elastic-net mixing in (0, 1); used only when ``penalty="elasticnet"``.
        class_weight: ``None``, ``"balanced"`` or {class: weight}.
        max_iter, tol: solver settings.
        warm_start: start the solver from the previous fit's coefficients when
            the feature count matches (used across folds in the joint study).
        random_state: seed for the stochastic ``saga`` solver (L1 / elastic net).
    """

    def __init__(
        self,
        penalty: str = "l2",
        C: float = 1.0,
        l1_ratio: float = 0.5,
        class_weight: str | dict | None = None,
        max_iter: int = 300,
        tol: float = 1e-4,
        warm_start: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.random_state = random_state

    @staticmethod
    def suggest_params(trial: BaseTrial) -> dict[str, Any]:
        """The learner's search space (plain Python over an Optuna trial)."""
        penalty = trial.suggest_categorical("lr_penalty", ["l2", "l1", "elasticnet"])
        params: dict[str, Any] = {
            "penalty": penalty,
            "C": trial.suggest_float("lr_C", 1e-3, 1e2, log=True),
            "class_weight": trial.suggest_categorical("lr_class_weight", ["none", "balanced"]),
        }
        if params["class_weight"] == "none":
            params["class_weight"] = None
        if penalty == "elasticnet":
            params["l1_ratio"] = trial.suggest_float("lr_l1_ratio", 0.05, 0.95)
        return params

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _standardise(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        Z = (X - self.mean_) / self.scale_
        Z[np.isnan(Z)] = 0.0
        return Z

    def fit(self, X: Any, y: Any) -> LogisticStacker:
        """Fit on X (n, d) and class labels y (n,)."""
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        check_classification_targets(y)
        if self.penalty not in ("l2", "l1", "elasticnet"):
            raise ValueError(f"LogisticStacker.penalty must be 'l2', 'l1' or 'elasticnet', "
                             f"got {self.penalty!r}")
        if not (self.class_weight is None or self.class_weight == "balanced"
                or isinstance(self.class_weight, dict)):
            raise ValueError(f"LogisticStacker.class_weight must be None, 'balanced' or a dict, "
                             f"got {self.class_weight!r}")
        with np.errstate(all="ignore"):
            mean = np.nanmean(np.where(np.isnan(X).all(axis=0), 0.0, X), axis=0)
            scale = np.nanstd(X, axis=0)
        mean = np.nan_to_num(mean)
        scale = np.where(np.isfinite(scale) & (scale > 1e-12), scale, 1.0)
        l1_ratio = _L1_RATIO.get(self.penalty, float(self.l1_ratio))
        prev: NDArray[np.float64] | None = getattr(self, "coef_", None) if self.warm_start else None
        prev_classes: NDArray = getattr(self, "classes_", np.empty(0))
        prev_intercept: NDArray[np.float64] = getattr(self, "intercept_", np.empty(0))
        self.mean_, self.scale_ = mean, scale
        lr = LogisticRegression(
            C=float(self.C),
            l1_ratio=l1_ratio,
            solver="lbfgs" if l1_ratio == 0.0 else "saga",
            class_weight=self.class_weight,
            max_iter=self.max_iter,
            tol=self.tol,
            warm_start=prev is not None,
            random_state=self.random_state,
        )
        classes = np.unique(y)
        if prev is not None and prev.shape[1] == X.shape[1] and np.array_equal(
            classes, prev_classes
        ):
            lr.coef_, lr.intercept_ = prev.copy(), prev_intercept.copy()
        lr.fit(self._standardise(X), y)
        self.classes_ = lr.classes_
        self.coef_ = lr.coef_
        self.intercept_ = lr.intercept_
        self.n_iter_ = lr.n_iter_
        return self

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """(n,) log-odds for two classes, (n, n_classes) scores otherwise."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        s = self._standardise(X) @ self.coef_.T + self.intercept_
        return s.ravel() if s.shape[1] == 1 else s

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """(n, n_classes) probabilities in the order of ``classes_``."""
        s = self.decision_function(X)
        if s.ndim == 1:
            p = expit(s)
            return np.column_stack([1.0 - p, p])
        return softmax(s, axis=1)

    def predict(self, X: Any) -> NDArray:
        """(n,) most probable class."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def get_state(self) -> dict[str, Any]:
        """JSON-serialisable fitted state."""
        check_is_fitted(self)
        return {"classes": self.classes_.tolist(), "mean": self.mean_.tolist(),
                "scale": self.scale_.tolist(), "coef": self.coef_.tolist(),
                "intercept": self.intercept_.tolist(), "n_features_in": self.n_features_in_}

    def set_state(self, state: dict[str, Any]) -> LogisticStacker:
        """Restore the state written by :meth:`get_state`."""
        self.classes_ = np.asarray(state["classes"])
        self.mean_ = np.asarray(state["mean"], dtype=np.float64)
        self.scale_ = np.asarray(state["scale"], dtype=np.float64)
        self.coef_ = np.asarray(state["coef"], dtype=np.float64)
        self.intercept_ = np.asarray(state["intercept"], dtype=np.float64)
        self.n_features_in_ = int(state["n_features_in"])
        return self
