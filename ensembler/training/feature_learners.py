"""The learners of a feature member, one model per class, fitted on one fold's training part.

* ``lightgbm``: one booster per class, early-stopped on the fold's inner patient-grouped
  validation rows; stored as LightGBM's own text (``booster_<c>.txt``).
* ``logistic``: median imputation and standardisation fitted on the fold's whole training
  part (inner train + inner validation: there is no early stopping), then one
  L2-penalised logistic regression per class; stored as JSON (``logistic.json``: medians,
  means, scales, coefficients, intercepts), never pickle.

A fitted learner is a :class:`BoosterModel` or a :class:`LogisticModel`; both ``predict``
``(N, F)`` float64 columns (NaN = missing) to ``(N, C)`` float32 probabilities with the same
code in training, in the report and in a bundle, so a bundle reproduces the run exactly.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ensembler.config import FeatureMemberEntry
from ensembler.errors import BundleIntegrityError
from ensembler.utils.seeds import derive_seed

LOGISTIC_FILE = "logistic.json"
LOGISTIC_FORMAT = "ensembler.feature_logistic/1"


# --------------------------------------------------------------------------- LightGBM


def lgb_params(entry: FeatureMemberEntry, seed: int) -> dict[str, Any]:
    """LightGBM training parameters of ``entry`` (deterministic, one thread)."""
    p = entry.lightgbm
    return {"objective": "binary", "learning_rate": p.learning_rate, "num_leaves": p.num_leaves,
            "min_child_samples": p.min_child_samples, "feature_fraction": p.feature_fraction,
            "lambda_l2": p.reg_lambda, "seed": seed, "deterministic": True,
            "force_col_wise": True, "num_threads": 1, "verbose": -1}  # fmt: skip


def safe_names(names: list[str]) -> list[str]:
    """LightGBM refuses some characters in feature names (JSON specials): replace them."""
    table = str.maketrans({c: "_" for c in '":,[]{}'})
    return [n.translate(table) for n in names]


def fit_boosters(entry: FeatureMemberEntry, x: np.ndarray, y: np.ndarray, train: np.ndarray,
                 val: np.ndarray, seed: int, names: list[str]) -> list[Any]:
    """One booster per class on rows ``train``, early-stopped on rows ``val``.

    A class with one label value in ``train`` gets a constant model (its prevalence, as a
    one-round booster's init score); a class with one value in ``val`` trains the full
    ``max_rounds`` without early stopping.
    """
    import lightgbm as lgb

    boosters = []
    for c in range(y.shape[1]):
        params = lgb_params(entry, derive_seed(seed, "class", c))
        y_tr, y_va = y[train, c], y[val, c]
        dtrain = lgb.Dataset(x[train], y_tr, feature_name=safe_names(names), free_raw_data=True)
        callbacks: list[Callable[..., Any]] = []
        valid: list[Any] = []
        if len(np.unique(y_va)) == 2:
            valid = [lgb.Dataset(x[val], y_va, reference=dtrain)]
            callbacks = [lgb.early_stopping(entry.lightgbm.early_stopping, verbose=False)]
        rounds = entry.lightgbm.max_rounds if len(np.unique(y_tr)) == 2 else 1
        boosters.append(lgb.train(params, dtrain, num_boost_round=rounds, valid_sets=valid,
                                  callbacks=callbacks))
    return boosters


def predict_boosters(boosters: list[Any], x: np.ndarray) -> np.ndarray:
    """``(N, C)`` float32 probabilities, each booster at its best iteration."""
    if len(x) == 0:
        return np.zeros((0, len(boosters)), np.float32)
    cols = [b.predict(x, num_iteration=b.best_iteration or None) for b in boosters]
    return np.clip(np.column_stack(cols), 0.0, 1.0).astype(np.float32)


def parse_boosters(texts: list[str], n_columns: int, where: str) -> list[Any]:
    """LightGBM boosters from their text (parsed, not executed), checked for input width."""
    import lightgbm as lgb

    out = []
    for c, text in enumerate(texts):
        try:
            b = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as exc:
            raise BundleIntegrityError(f"{where}: booster {c} is not a LightGBM text model "
                                       f"({str(exc).splitlines()[0]})") from None
        if b.num_feature() != n_columns:
            raise BundleIntegrityError(f"{where}: booster {c} reads {b.num_feature()} columns, "
                                       f"the feature set and tabular inputs give {n_columns}")
        out.append(b)
    return out


@dataclass
class BoosterModel:
    """One fold's LightGBM boosters, one per class."""

    boosters: list[Any]
    num_leaves: int = 0

    def predict(self, x: np.ndarray) -> np.ndarray:
        return predict_boosters(self.boosters, x)

    def files(self) -> dict[str, str]:
        return {f"booster_{c}.txt": b.model_to_string() for c, b in enumerate(self.boosters)}

    def rounds(self) -> list[int]:
        return [int(b.best_iteration or b.current_iteration()) for b in self.boosters]

    def n_params(self) -> int:
        return int(sum(b.num_trees() * self.num_leaves for b in self.boosters))


# --------------------------------------------------------------------------- logistic


@dataclass
class LogisticModel:
    """Median imputation, standardisation and one logistic regression per class.

    ``medians``, ``means``, ``scales``: (F,) fitted on the fold's training part;
    ``coef``: (C, F) on the standardised columns; ``intercept``: (C,).
    """

    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    C: float

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """(N, F) float64: non-finite values replaced by the medians, then standardised."""
        x = np.asarray(x, np.float64)
        x = np.where(np.isfinite(x), x, self.medians[None, :])
        return (x - self.means[None, :]) / self.scales[None, :]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(N, C) float32 probabilities of (N, F) raw columns."""
        from scipy.special import expit

        if len(x) == 0:
            return np.zeros((0, len(self.intercept)), np.float32)
        z = self.standardise(x) @ self.coef.T + self.intercept[None, :]
        return expit(z).astype(np.float32)

    def to_json(self) -> str:
        return json.dumps({
            "format": LOGISTIC_FORMAT, "C": self.C, "n_columns": int(self.coef.shape[1]),
            "n_classes": int(self.coef.shape[0]), "medians": self.medians.tolist(),
            "means": self.means.tolist(), "scales": self.scales.tolist(),
            "coef": self.coef.tolist(), "intercept": self.intercept.tolist()})

    @classmethod
    def from_json(cls, text: str, n_columns: int, n_classes: int, where: str) -> LogisticModel:
        """Parse and check a stored model; BundleIntegrityError naming ``where`` if bad."""
        try:
            doc = json.loads(text)
            if doc.get("format") != LOGISTIC_FORMAT:
                raise ValueError(f"format {doc.get('format')!r}, expected {LOGISTIC_FORMAT!r}")
            arrays = {k: np.asarray(doc[k], np.float64)
                      for k in ("medians", "means", "scales", "coef", "intercept")}
            model = cls(**arrays, C=float(doc["C"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleIntegrityError(f"{where}: not a logistic feature model ({exc})") from None
        shapes = [model.medians.shape, model.means.shape, model.scales.shape]
        if (shapes != [(n_columns,)] * 3 or model.coef.shape != (n_classes, n_columns)
                or model.intercept.shape != (n_classes,)):
            raise BundleIntegrityError(f"{where}: logistic model shapes do not fit {n_columns} "
                                       f"columns and {n_classes} classes")
        return model

    def files(self) -> dict[str, str]:
        return {LOGISTIC_FILE: self.to_json()}

    def rounds(self) -> list[int]:
        return [0] * len(self.intercept)

    def n_params(self) -> int:
        return int(self.coef.size + self.intercept.size)


def fit_logistic(x: np.ndarray, y: np.ndarray, rows: np.ndarray, C: float,
                 max_iter: int) -> LogisticModel:
    """Imputer, scaler and one ``LogisticRegression(C)`` per class on ``rows`` of ``x`` (N, F).

    scikit-learn fits every step; the fitted numbers are kept as arrays so that one numpy
    function (:meth:`LogisticModel.predict`) predicts everywhere. An all-missing column gets
    median 0; a constant column scale 1. A class with one label value in ``rows`` gets a
    constant model (zero coefficients, intercept = logit of its clipped prevalence).
    """
    from scipy.special import logit
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    xr = np.asarray(x[rows], np.float64)
    xr = np.where(np.isfinite(xr), xr, np.nan)
    imputer = SimpleImputer(strategy="median", keep_empty_features=True).fit(xr)
    filled = imputer.transform(xr)
    scaler = StandardScaler().fit(filled)
    z = scaler.transform(filled)
    coef = np.zeros((y.shape[1], x.shape[1]))
    intercept = np.zeros(y.shape[1])
    for c in range(y.shape[1]):
        yc = y[rows, c]
        if len(np.unique(yc)) < 2:
            intercept[c] = float(logit(np.clip(yc.mean() if len(yc) else 0.5, 1e-6, 1 - 1e-6)))
            continue
        with warnings.catch_warnings():  # recorded by the objective/AUC, not worth a warning
            warnings.simplefilter("ignore", ConvergenceWarning)
            lr = LogisticRegression(C=C, max_iter=max_iter).fit(z, yc)
        coef[c], intercept[c] = lr.coef_[0], lr.intercept_[0]
    return LogisticModel(medians=np.asarray(imputer.statistics_, np.float64),
                         means=np.asarray(scaler.mean_, np.float64),
                         scales=np.asarray(scaler.scale_, np.float64), coef=coef,
                         intercept=intercept, C=float(C))


# --------------------------------------------------------------------------- either

FeatureLearner = BoosterModel | LogisticModel


def fit_learner(entry: FeatureMemberEntry, x: np.ndarray, y: np.ndarray, train: np.ndarray,
                val: np.ndarray, seed: int, names: list[str]) -> FeatureLearner:
    """Fit ``entry.learner`` on a fold: ``train``/``val`` are its inner split's rows."""
    if entry.learner == "logistic":
        rows = np.sort(np.concatenate([train, val]))
        return fit_logistic(x, y, rows, entry.logistic.C, entry.logistic.max_iter)
    return BoosterModel(fit_boosters(entry, x, y, train, val, seed, names),
                        entry.lightgbm.num_leaves)


def contributions(model: FeatureLearner, x: np.ndarray, with_bias: bool = False) -> np.ndarray:
    """``(C, N, F)`` per-class contributions of each column of ``x`` (N, F) to the log-odds.

    LightGBM: ``pred_contrib`` (TreeSHAP); logistic: ``coef x`` the median-imputed,
    standardised value. Exact: with ``with_bias`` a last column holds the bias (LightGBM's
    expected raw score, the logistic intercept), and a row's columns sum to its raw score.
    """
    if isinstance(model, BoosterModel):
        out = np.stack([np.asarray(b.predict(x, num_iteration=b.best_iteration or None,
                                             pred_contrib=True), np.float64).reshape(
            len(x), x.shape[1] + 1) for b in model.boosters])
        return out if with_bias else out[:, :, :-1]
    vals = model.standardise(x)[None, :, :] * model.coef[:, None, :]
    if not with_bias:
        return vals
    bias = np.broadcast_to(model.intercept[:, None, None], (len(model.intercept), len(x), 1))
    return np.concatenate([vals, bias], axis=2)


def write_learner(model: FeatureLearner, folder: Path) -> None:
    for name, text in model.files().items():
        (folder / name).write_text(text)


def learner_files(folder: Path, learner: str, n_classes: int) -> list[Path]:
    """The files a fold folder of a ``learner`` model must hold."""
    if learner == "logistic":
        return [folder / LOGISTIC_FILE]
    return [folder / f"booster_{c}.txt" for c in range(n_classes)]


def parse_learner(learner: str, texts: Mapping[str, str], n_columns: int, n_classes: int,
                  where: str) -> FeatureLearner:
    """A stored learner from its files' text (file name -> text), checked for shape."""
    if learner == "logistic":
        return LogisticModel.from_json(texts[LOGISTIC_FILE], n_columns, n_classes, where)
    return BoosterModel(parse_boosters([texts[f"booster_{c}.txt"] for c in range(n_classes)],
                                       n_columns, where))


def read_learner(folder: Path, learner: str, n_columns: int, n_classes: int) -> FeatureLearner:
    """The learner stored in fold folder ``folder``."""
    files = learner_files(folder, learner, n_classes)
    return parse_learner(learner, {f.name: f.read_text() for f in files}, n_columns,
                         n_classes, str(folder))
