"""StackModel (one binary estimator per class) and the fitted, servable FittedStack."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from stacking.calibration import CALIBRATION_METHODS, Calibrator, choose_calibration
from stacking.data import Level1Data
from stacking.features import RankState, build_meta_features
from stacking.learners import BLENDERS, LightGBMStacker, create_learner
from stacking.metrics import macro_auc
from stacking.spec import StackSpec

__all__ = ["FittedStack", "StackModel", "fit_stack", "stack_features"]

FORMAT_VERSION = 1


class StackModel:
    """Multi-label layout over binary scikit-learn estimators: one estimator per class.

    The estimators follow scikit-learn's conventions exactly (``predict_proba``
    returns (n, 2)); this wrapper maps (N, D) level-1 features and (N, C)
    labels to (N, C) positive-class scores. Class j's estimator reads the
    columns ``<member>:<class_j>`` (all classes' columns with ``cross_class``)
    plus passthrough columns. A class with a single label value in the
    training rows predicts its constant prevalence.
    """

    def __init__(self, spec: StackSpec, class_names: Sequence[str],
                 feature_names: Sequence[str], random_state: int | None = None) -> None:
        self.spec = spec
        self.class_names = list(class_names)
        self.feature_names = list(feature_names)
        self.random_state = random_state
        index = {n: i for i, n in enumerate(self.feature_names)}
        self.columns_: list[list[int]] = []
        self.monotone_: list[list[int]] = []
        for c in self.class_names:
            cls_cols = self.class_names if spec.cross_class else [c]
            names = [f"{m}:{k}" for m in spec.members for k in cls_cols]
            names += [f"tabular:{t}" for t in spec.passthrough]
            missing = [n for n in names if n not in index]
            if missing:
                raise ValueError(f"StackModel: feature columns {missing} not in the level-1 "
                                 f"matrix (have {self.feature_names[:8]}...)")
            self.columns_.append([index[n] for n in names])
            self.monotone_.append([1 if n.endswith(f":{c}") and not n.startswith("tabular:")
                                   else 0 for n in names])
        self.estimators_: list[BaseEstimator | float] = []

    def _make(self, j: int) -> BaseEstimator:
        params = dict(self.spec.params)
        if self.spec.learner in BLENDERS:
            params["link"] = "logit" if self.spec.transform == "logit" else "identity"
        if self.spec.monotone:
            params["monotone_constraints"] = self.monotone_[j]
        return create_learner(self.spec.learner, params, self.random_state)

    def fit(self, X: NDArray[np.floating], Y: NDArray,
            groups: NDArray | None = None) -> StackModel:
        """Fit on (N, D) features and (N, C) labels; ``groups`` (N,) for inner splits.

        Every fit starts from scratch: no warm start from another fold's model,
        whose training rows would include this fit's held-out rows.
        """
        Y = np.asarray(Y)
        self.estimators_ = []
        for j in range(len(self.class_names)):
            yj = Y[:, j]
            if yj.min() == yj.max():
                self.estimators_.append(float(yj[0]))
                continue
            est = self._make(j)
            Xj = X[:, self.columns_[j]]
            if isinstance(est, LightGBMStacker):
                est.fit(Xj, yj, groups=groups)
            else:
                est.fit(Xj, yj)  # type: ignore[attr-defined]
            self.estimators_.append(est)
        return self

    def predict(self, X: NDArray[np.floating]) -> NDArray[np.float64]:
        """(N, C) positive-class scores in [0, 1]."""
        out = np.empty((X.shape[0], len(self.class_names)))
        for j, est in enumerate(self.estimators_):
            if isinstance(est, float):
                out[:, j] = est
            else:
                out[:, j] = est.predict_proba(X[:, self.columns_[j]])[:, 1]  # type: ignore[attr-defined]
        return out

    def get_state(self) -> list[dict[str, Any]]:
        return [{"constant": e} if isinstance(e, float) else e.get_state()  # type: ignore[attr-defined]
                for e in self.estimators_]

    def set_state(self, states: Sequence[Mapping[str, Any]]) -> StackModel:
        self.estimators_ = []
        for j, st in enumerate(states):
            if "constant" in st:
                self.estimators_.append(float(st["constant"]))
            else:
                self.estimators_.append(self._make(j).set_state(dict(st)))  # type: ignore[attr-defined]
        return self


def stack_features(
    preds: Mapping[str, NDArray[np.floating]], spec: StackSpec, class_names: Sequence[str],
    rank_state: RankState | None, tabular: NDArray[np.floating] | None,
    tabular_names: Sequence[str],
) -> tuple[NDArray[np.float64], list[str]]:
    """Level-1 matrix of ``spec`` (its members, transform and passthrough columns)."""
    tab = None
    if spec.passthrough:
        if tabular is None:
            raise ValueError(f"stack {spec.label()}: passthrough {list(spec.passthrough)} "
                             "needs tabular features, got none")
        names = list(tabular_names)
        missing = [t for t in spec.passthrough if t not in names]
        if missing:
            raise ValueError(f"stack {spec.label()}: passthrough columns {missing} not in "
                             f"tabular_names {names}")
        tab = np.asarray(tabular)[:, [names.index(t) for t in spec.passthrough]]
    return build_meta_features(preds, spec.members, class_names, spec.transform, rank_state,
                               tab, list(spec.passthrough) if spec.passthrough else None)


def _rank_state(spec: StackSpec, preds: Mapping[str, NDArray], class_names: Sequence[str]
                ) -> RankState | None:
    return RankState.fit(preds, spec.members, class_names) if spec.transform == "rank" else None


def fit_predict(data: Level1Data, spec: StackSpec, train: NDArray[np.bool_],
                test: NDArray[np.bool_], seed: int) -> NDArray[np.float64]:
    """Fit ``spec`` on development rows ``train`` (incl. its rank ECDF), score rows ``test``."""
    tr = {m: data.oof[m][train] for m in spec.members}
    te = {m: data.oof[m][test] for m in spec.members}
    rs = _rank_state(spec, tr, data.class_names)
    tab = data.tabular_dev
    X_tr, names = stack_features(tr, spec, data.class_names, rs,
                                 None if tab is None else tab[train], data.tabular_names)
    X_te, _ = stack_features(te, spec, data.class_names, rs,
                             None if tab is None else tab[test], data.tabular_names)
    model = StackModel(spec, data.class_names, names, seed)
    model.fit(X_tr, data.y[train], groups=data.groups[train])
    return model.predict(X_te)


@dataclass
class FittedStack:
    """A stack fitted on all development OOF, with honest meta-level OOF predictions.

    Attributes:
        spec: the configuration (``calibration`` as requested; ``calibration_``
            is the method actually used).
        class_names, tabular_names: the level-1 layout it was fitted on.
        model: the StackModel fitted on all development rows.
        rank_state: ECDF knots for ``transform="rank"``.
        calibrator: fitted on all meta-level OOF scores.
        calibration_: chosen method; ``calibration_scores_``: CV log-loss per method.
        oof_raw_: (N_dev, C) meta-level OOF scores (cross_val_predict over the base folds).
        oof_: (N_dev, C) the same, calibrated by cross-fitting (use for thresholds).
        fold_aucs_: macro-AUC of ``oof_raw_`` in each base fold.
    """

    spec: StackSpec
    class_names: list[str]
    tabular_names: list[str]
    model: StackModel
    rank_state: RankState | None
    calibrator: Calibrator
    calibration_: str
    calibration_scores_: dict[str, float]
    oof_raw_: NDArray[np.float64]
    oof_: NDArray[np.float64]
    fold_aucs_: list[float]

    @property
    def cv_auc_(self) -> float:
        """Mean over base folds of the meta-level OOF macro-AUC."""
        return float(np.mean(self.fold_aucs_))

    def predict_level0(self, preds: Mapping[str, NDArray[np.floating]],
                       tabular: NDArray[np.floating] | None = None) -> NDArray[np.float64]:
        """Calibrated (n, C) probabilities for ONE level-0 set.

        Args:
            preds: member -> (n, C) probabilities (every member of ``spec``).
            tabular: (n, F) in the order of ``tabular_names``; needed with passthrough.
        """
        X, _ = stack_features(preds, self.spec, self.class_names, self.rank_state, tabular,
                              self.tabular_names)
        return self.calibrator.transform(self.model.predict(X))

    def predict_test(self, test_by_fold: Mapping[str, NDArray[np.floating]],
                     tabular: NDArray[np.floating] | None = None) -> NDArray[np.float64]:
        """Mean over k of :meth:`predict_level0` on each fold's set ``test_by_fold[m][k]``.

        Args:
            test_by_fold: member -> (K, n, C).
            tabular: (n, F) tabular features of the test rows.
        """
        shapes = {np.asarray(test_by_fold[m]).shape[0] for m in self.spec.members}
        if len(shapes) != 1:
            raise ValueError(f"predict_test: members disagree on the number of folds K: {shapes}")
        k = shapes.pop()
        outs = [self.predict_level0({m: np.asarray(test_by_fold[m])[i] for m in self.spec.members},
                                    tabular) for i in range(k)]
        return np.mean(outs, axis=0)

    # ---- serialisation: JSON + LightGBM text only -------------------------------------
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``stack.json``, ``oof.json`` and (lightgbm) ``booster_<j>.txt`` into ``directory``.

        The folder is created if needed; files are written in place. Callers that need
        an all-or-nothing folder (ensembler's stacking stage) pass the temporary folder
        of their atomic folder writer.
        """
        tmp = Path(directory)
        tmp.mkdir(parents=True, exist_ok=True)
        states = self.model.get_state()
        for j, st in enumerate(states):
            if "model" in st:
                (tmp / f"booster_{j}.txt").write_text(st.pop("model"))
                st["model_file"] = f"booster_{j}.txt"
        doc = {"format_version": FORMAT_VERSION, "spec": self.spec.to_dict(),
               "class_names": self.class_names, "tabular_names": self.tabular_names,
               "feature_names": self.model.feature_names, "seed": self.model.random_state,
               "estimators": states,
               "rank_state": None if self.rank_state is None else self.rank_state.to_dict(),
               "calibrator": self.calibrator.to_dict(), "calibration": self.calibration_,
               "calibration_scores": self.calibration_scores_, "fold_aucs": self.fold_aucs_}
        (tmp / "stack.json").write_text(json.dumps(doc, indent=1))
        (tmp / "oof.json").write_text(json.dumps({"oof_raw": self.oof_raw_.tolist(),
                                                  "oof": self.oof_.tolist()}))
        return tmp

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> FittedStack:
        """Read a directory written by :meth:`save` (no pickle involved)."""
        d = Path(directory)
        path = d / "stack.json"
        if not path.is_file():
            raise FileNotFoundError(f"FittedStack.load: {path} not found")
        doc = json.loads(path.read_text())
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: format_version {doc.get('format_version')!r}, "
                             f"expected {FORMAT_VERSION}")
        spec = StackSpec.from_dict(doc["spec"])
        states = doc["estimators"]
        for st in states:
            if "model_file" in st:
                st["model"] = (d / st.pop("model_file")).read_text()
        model = StackModel(spec, doc["class_names"], doc["feature_names"], doc["seed"])
        model.set_state(states)
        oof = json.loads((d / "oof.json").read_text())
        return cls(spec=spec, class_names=doc["class_names"], tabular_names=doc["tabular_names"],
                   model=model,
                   rank_state=None if doc["rank_state"] is None
                   else RankState.from_dict(doc["rank_state"]),
                   calibrator=Calibrator.from_dict(doc["calibrator"]),
                   calibration_=doc["calibration"],
                   calibration_scores_=dict(doc["calibration_scores"]),
                   oof_raw_=np.asarray(oof["oof_raw"], dtype=np.float64),
                   oof_=np.asarray(oof["oof"], dtype=np.float64),
                   fold_aucs_=list(doc["fold_aucs"]))


def fit_stack(data: Level1Data, spec: StackSpec, seed: int = 0,
              calibration_methods: Sequence[str] = CALIBRATION_METHODS) -> FittedStack:
    """Fit ``spec`` on all development OOF, with meta-level OOF and calibration.

    1. Meta-level ``cross_val_predict`` over the base folds (rank ECDF refitted
       on each fold's training part) -> ``oof_raw_`` (N_dev, C).
    2. Calibration chosen by cross-validated log-loss on ``oof_raw_`` over the
       same folds (``spec.calibration="auto"``) or the fixed method.
    3. The final model (and ECDF) fitted on all development rows.
    """
    missing = [m for m in spec.members if m not in data.members]
    if missing:
        raise ValueError(f"fit_stack: spec members {missing} not in the data's {data.members}")
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_stack(data, spec, seed, calibration_methods)


def _fit_stack(data: Level1Data, spec: StackSpec, seed: int,
               calibration_methods: Sequence[str]) -> FittedStack:
    oof_raw = np.empty(data.y.shape)
    fold_aucs = []
    for k in range(data.n_folds):
        te = data.folds == k
        oof_raw[te] = fit_predict(data, spec, ~te, te, seed)
        fold_aucs.append(macro_auc(data.y[te], oof_raw[te]))
    methods = list(calibration_methods) if spec.calibration == "auto" else [spec.calibration]
    choice = choose_calibration(oof_raw, data.y, data.folds, methods)
    rs = _rank_state(spec, data.oof, data.class_names)
    X, names = stack_features(data.oof, spec, data.class_names, rs, data.tabular_dev,
                              data.tabular_names)
    model = StackModel(spec, data.class_names, names, seed).fit(X, data.y, groups=data.groups)
    return FittedStack(spec=spec, class_names=data.class_names,
                       tabular_names=data.tabular_names, model=model, rank_state=rs,
                       calibrator=choice.calibrator, calibration_=choice.method,
                       calibration_scores_=choice.scores, oof_raw_=oof_raw, oof_=choice.oof,
                       fold_aucs_=fold_aucs)
