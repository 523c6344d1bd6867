"""LightGBM meta-learner: early stopping on a patient-grouped inner split, text-model state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

if TYPE_CHECKING:
    from optuna.trial import BaseTrial

__all__ = ["LightGBMStacker"]

_MIN_ROWS_FOR_EARLY_STOPPING = 50


class LightGBMStacker(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees on level-1 features (binary or multiclass).

    ``n_estimators`` is an upper bound: a patient-grouped inner split
    (``validation_fraction`` of the groups passed to :meth:`fit`) picks the
    number of trees by early stopping on log-loss; the booster keeps only those
    trees. NaN inputs go to LightGBM's missing-value branch.

    Args:
        num_leaves, learning_rate, n_estimators, min_child_samples, reg_lambda,
        reg_alpha, colsample_bytree: LightGBM parameters.
        early_stopping_rounds: patience; 0 disables the inner split.
        validation_fraction: share of groups held out for early stopping.
        monotone_constraints: per-feature -1/0/+1, e.g. +1 on probability inputs.
        class_weight: ``None``, ``"balanced"`` or {class: weight}.
        n_jobs: LightGBM threads per fit (keep 1; parallelise across folds).
        random_state: seed of the booster and of the inner split.
    """

    def __init__(
        self,
        num_leaves: int = 15,
        learning_rate: float = 0.05,
        n_estimators: int = 300,
        min_child_samples: int = 20,
        reg_lambda: float = 0.0,
        reg_alpha: float = 0.0,
        colsample_bytree: float = 1.0,
        early_stopping_rounds: int = 30,
        validation_fraction: float = 0.15,
        monotone_constraints: list[int] | None = None,
        class_weight: str | dict | None = None,
        n_jobs: int = 1,
        random_state: int | None = None,
    ) -> None:
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.n_estimators = n_estimators
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.colsample_bytree = colsample_bytree
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.monotone_constraints = monotone_constraints
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.random_state = random_state

    @staticmethod
    def suggest_params(trial: BaseTrial) -> dict[str, Any]:
        """The learner's search space (plain Python over an Optuna trial)."""
        return {
            "num_leaves": trial.suggest_int("gbm_num_leaves", 4, 63, log=True),
            "learning_rate": trial.suggest_float("gbm_learning_rate", 0.02, 0.3, log=True),
            "n_estimators": trial.suggest_int("gbm_n_estimators", 50, 300, log=True),
            "min_child_samples": trial.suggest_int("gbm_min_child_samples", 5, 200, log=True),
            "reg_lambda": trial.suggest_float("gbm_reg_lambda", 1e-3, 10.0, log=True),
            "reg_alpha": trial.suggest_float("gbm_reg_alpha", 1e-3, 10.0, log=True),
            "colsample_bytree": trial.suggest_float("gbm_colsample_bytree", 0.5, 1.0),
        }

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _params(self, n_classes: int) -> dict[str, Any]:
        p: dict[str, Any] = {
            "objective": "binary" if n_classes == 2 else "multiclass",
            "num_leaves": int(self.num_leaves),
            "learning_rate": float(self.learning_rate),
            "min_child_samples": int(self.min_child_samples),
            "lambda_l2": float(self.reg_lambda),
            "lambda_l1": float(self.reg_alpha),
            "feature_fraction": float(self.colsample_bytree),
            "num_threads": int(self.n_jobs),
            "seed": 0 if self.random_state is None else int(self.random_state),
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }
        if n_classes > 2:
            p["num_class"] = n_classes
        if self.monotone_constraints is not None:
            p["monotone_constraints"] = [int(v) for v in self.monotone_constraints]
        return p

    def fit(self, X: Any, y: Any, groups: Any = None) -> LightGBMStacker:
        """Fit on X (n, d), labels y (n,); ``groups`` (n,) patient ids for the inner split."""
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError("LightGBMStacker: y has one class; need at least 2 classes")
        if not (self.class_weight is None or self.class_weight == "balanced"
                or isinstance(self.class_weight, dict)):
            raise ValueError(f"LightGBMStacker.class_weight must be None, 'balanced' or a dict, "
                             f"got {self.class_weight!r}")
        if (self.monotone_constraints is not None
                and len(self.monotone_constraints) != X.shape[1]):
            raise ValueError(f"LightGBMStacker.monotone_constraints: expected {X.shape[1]} "
                             f"values, got {len(self.monotone_constraints)}")
        weight = (None if self.class_weight is None
                  else compute_sample_weight(self.class_weight, y))
        params = self._params(self.classes_.size)
        train_idx = np.arange(X.shape[0])
        valid_idx: NDArray[np.intp] | None = None
        if self.early_stopping_rounds and X.shape[0] >= _MIN_ROWS_FOR_EARLY_STOPPING:
            g = np.arange(X.shape[0]) if groups is None else np.asarray(groups)
            if g.shape != (X.shape[0],):
                raise ValueError(f"LightGBMStacker.fit: groups must be ({X.shape[0]},), "
                                 f"got {g.shape}")
            splitter = GroupShuffleSplit(n_splits=1, test_size=self.validation_fraction,
                                         random_state=self.random_state)
            train_idx, valid_idx = next(splitter.split(X, y_enc, g))
        w_tr = None if weight is None else weight[train_idx]
        dtrain = lgb.Dataset(X[train_idx], y_enc[train_idx], weight=w_tr,
                             params={"verbosity": -1}, free_raw_data=True)
        callbacks: list[Any] = []
        valid_sets = []
        if valid_idx is not None:
            w_va = None if weight is None else weight[valid_idx]
            valid_sets = [lgb.Dataset(X[valid_idx], y_enc[valid_idx], weight=w_va,
                                      reference=dtrain)]
            callbacks = [lgb.early_stopping(int(self.early_stopping_rounds), verbose=False)]
        booster = lgb.train(params, dtrain, num_boost_round=int(self.n_estimators),
                            valid_sets=valid_sets, callbacks=callbacks)
        best = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
        self.best_iteration_ = int(best)
        # Keep exactly the text model that save/load writes, so predictions round-trip.
        self.booster_ = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        return self

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """(n, n_classes) probabilities in the order of ``classes_``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        p = np.asarray(self.booster_.predict(X), dtype=np.float64)
        if p.ndim == 1:
            return np.column_stack([1.0 - p, p])
        return p

    def predict(self, X: Any) -> NDArray:
        """(n,) most probable class."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def get_state(self) -> dict[str, Any]:
        """JSON-serialisable state; the booster is LightGBM's own text model."""
        check_is_fitted(self)
        return {"classes": self.classes_.tolist(), "n_features_in": self.n_features_in_,
                "best_iteration": self.best_iteration_, "model": self.booster_.model_to_string()}

    def set_state(self, state: dict[str, Any]) -> LightGBMStacker:
        """Restore the state written by :meth:`get_state`."""
        self.classes_ = np.asarray(state["classes"])
        self.n_features_in_ = int(state["n_features_in"])
        self.best_iteration_ = int(state["best_iteration"])
        self.booster_ = lgb.Booster(model_str=state["model"])
        return self
