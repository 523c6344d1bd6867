"""Joint Optuna study over the whole stack, nested-CV estimate and Pareto front."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd
from joblib import Parallel, delayed
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from stacking.data import Level1Data
from stacking.features import TRANSFORMS, RankState, build_meta_features
from stacking.metrics import macro_auc
from stacking.model import StackModel, fit_predict
from stacking.search import DEFAULT_LEARNERS, suggest_spec
from stacking.spec import StackSpec

__all__ = ["NestedCVResult", "ParetoPoint", "StackStudyResult", "nested_cv", "pareto_pick",
           "tune_stack"]


@dataclass
class ParetoPoint:
    """One non-dominated trial of a multi-objective study."""

    spec: StackSpec
    auc: float
    n_members: int
    cost_ms: float | None
    trial_number: int


@dataclass
class NestedCVResult:
    """Outer patient-grouped folds around the stacking study (base-model tuning sits outside).

    Attributes:
        mean, sd: mean and SD over outer folds of the macro-AUC in ``fold_aucs``.
        fold_aucs: one macro-AUC per outer (base) fold, of the spec the inner study chose.
        specs: the inner study's pick in each outer fold.
        oof: (N_dev, C) the nested out-of-fold scores: each outer fold's rows scored by
            the stack its inner study chose and fitted without them (not serialised).
    """

    mean: float
    sd: float
    fold_aucs: list[float]
    specs: list[StackSpec]
    oof: NDArray[np.float64] | None = None


@dataclass
class StackStudyResult:
    """What :func:`tune_stack` found.

    Attributes:
        best_spec: the selected configuration (multi-objective: the highest-AUC
            Pareto point; see :func:`pareto_pick` for a cheaper one).
        best_value: its inner CV macro-AUC (optimistic: it was selected on it).
        nested: nested-CV estimate of this stacking study (member tuning and OOF
            training are outside it), or None if disabled.
        trials: one row per trial (number, state, value(s), params, label).
        pareto: the Pareto front (multi-objective mode), else empty.
        n_complete, n_pruned: trial counts by state.
        elapsed_s: wall time of the main study.
    """

    best_spec: StackSpec
    best_value: float
    nested: NestedCVResult | None
    trials: pd.DataFrame
    pareto: list[ParetoPoint] = field(default_factory=list)
    n_complete: int = 0
    n_pruned: int = 0
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the trials table is left to the caller, e.g. CSV)."""
        return {
            "best_spec": self.best_spec.to_dict(), "best_value": self.best_value,
            "nested": None if self.nested is None else {
                "mean": self.nested.mean, "sd": self.nested.sd,
                "fold_aucs": self.nested.fold_aucs,
                "specs": [s.to_dict() for s in self.nested.specs]},
            "pareto": [{"spec": p.spec.to_dict(), "auc": p.auc, "n_members": p.n_members,
                        "cost_ms": p.cost_ms, "trial": p.trial_number} for p in self.pareto],
            "n_complete": self.n_complete, "n_pruned": self.n_pruned,
            "elapsed_s": self.elapsed_s,
        }


def pareto_pick(front: Sequence[ParetoPoint], tolerance: float = 0.005) -> ParetoPoint:
    """The cheapest point (fewest members, then fewest ms) within ``tolerance`` AUC of the best."""
    if not front:
        raise ValueError("pareto_pick: the Pareto front is empty (was multi_objective on?)")
    top = max(p.auc for p in front)
    ok = [p for p in front if p.auc >= top - tolerance]
    return min(ok, key=lambda p: (p.n_members, p.cost_ms or 0.0, -p.auc))


class _FoldFeatures:
    """Level-1 matrices of every member, per (transform, base fold), computed once.

    A member subset only selects columns, so one matrix per transform and fold
    serves every trial; the rank ECDF is fitted on each fold's training part.
    """

    def __init__(self, data: Level1Data, passthrough: Sequence[str]) -> None:
        self.data = data
        self.passthrough = list(passthrough)
        tab = None
        if self.passthrough:
            if data.tabular_dev is None:
                raise ValueError("tune_stack: passthrough columns requested but the data has "
                                 "no tabular_dev")
            missing = [t for t in self.passthrough if t not in data.tabular_names]
            if missing:
                raise ValueError(f"tune_stack: passthrough {missing} not in tabular_names "
                                 f"{data.tabular_names}")
            tab = data.tabular_dev[:, [data.tabular_names.index(t) for t in self.passthrough]]
        self.tab = tab
        self._cache: dict[tuple[str, int], tuple[NDArray, NDArray, list[str]]] = {}

    def get(self, transform: str, k: int) -> tuple[NDArray, NDArray, list[str]]:
        key = (transform, k)
        if key not in self._cache:
            d = self.data
            te = d.folds == k
            tr_p = {m: d.oof[m][~te] for m in d.members}
            te_p = {m: d.oof[m][te] for m in d.members}
            rs = (RankState.fit(tr_p, d.members, d.class_names) if transform == "rank"
                  else None)
            tn = self.passthrough or None
            x_tr, names = build_meta_features(tr_p, d.members, d.class_names, transform, rs,
                                              None if self.tab is None else self.tab[~te], tn)
            x_te, _ = build_meta_features(te_p, d.members, d.class_names, transform, rs,
                                          None if self.tab is None else self.tab[te], tn)
            self._cache[key] = (x_tr, x_te, names)
        return self._cache[key]


def _run_fold(feats: _FoldFeatures, spec: StackSpec, k: int, seed: int) -> float:
    """Macro-AUC on base fold k of ``spec`` fitted from scratch on the other folds."""
    d = feats.data
    x_tr, x_te, names = feats.get(spec.transform, k)
    te = d.folds == k
    model = StackModel(spec, d.class_names, names, seed)
    model.fit(x_tr, d.y[~te], groups=d.groups[~te])
    return macro_auc(d.y[te], model.predict(x_te))


def _make_study(data: Level1Data, seed: int, multi_objective: bool, storage: str | None,
                study_name: str | None) -> tuple[optuna.Study, bool]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                             n_startup_trials=10)
    has_cost = multi_objective and all(m in data.member_cost_ms for m in data.members)
    if multi_objective:
        dirs: list[Any] = ["maximize", "minimize"] + (["minimize"] if has_cost else [])
        study = optuna.create_study(directions=dirs, sampler=sampler, storage=storage,
                                    study_name=study_name, load_if_exists=True)
    else:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=8, n_warmup_steps=0)
        study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner,
                                    storage=storage, study_name=study_name, load_if_exists=True)
    return study, has_cost


def _study(data: Level1Data, n_trials: int, seed: int, learners: Sequence[str],
           transforms: Sequence[str], passthrough: Sequence[str], multi_objective: bool,
           storage: str | None, study_name: str | None, n_jobs: int,
           timeout: float | None) -> tuple[optuna.Study, bool]:
    feats = _FoldFeatures(data, passthrough)
    study, has_cost = _make_study(data, seed, multi_objective, storage, study_name)
    if not study.trials:
        # Start each learner from "all members" so every learner is seen with the full
        # ensemble before TPE takes over (other parameters are sampled as usual).
        for name in learners[:n_trials]:
            study.enqueue_trial({"learner": name, **{f"use:{m}": True for m in data.members}})
    multilabel = len(data.class_names) > 1
    K = data.n_folds
    n_jobs = max(1, min(n_jobs, K))

    with Parallel(n_jobs=n_jobs, backend="threading") as par:

        def objective(trial: optuna.Trial) -> float | tuple[float, ...]:
            spec = suggest_spec(trial, data.members, learners, transforms, passthrough,
                                multilabel)
            if spec is None:
                raise optuna.TrialPruned("no member selected")
            trial.set_user_attr("label", spec.label())
            aucs = _cv_aucs(trial, feats, spec, seed, par, n_jobs, prune=not multi_objective)
            trial.set_user_attr("fold_aucs", aucs)
            auc = float(np.mean(aucs))
            if not multi_objective:
                return auc
            vals: tuple[float, ...] = (auc, float(len(spec.members)))
            if has_cost:
                vals += (float(sum(data.member_cost_ms[m] for m in spec.members)),)
            return vals

        # Level-1 fits are small: BLAS threads only oversubscribe the cores (7x slower
        # logistic fits measured on 2 cores); parallelism is across folds instead.
        with threadpool_limits(limits=1, user_api="blas"):
            study.optimize(objective, n_trials=n_trials, timeout=timeout)
    return study, has_cost


def _cv_aucs(trial: optuna.Trial, feats: _FoldFeatures, spec: StackSpec, seed: int,
             par: Parallel, n_jobs: int, prune: bool) -> list[float]:
    """The stack's AUC on each meta-level fold, ``n_jobs`` folds at a time.

    With ``prune``: one report and one pruning check per fold, in fold order, so the
    trial's fate does not depend on how many folds ran in parallel.
    """
    K = feats.data.n_folds
    aucs: list[float] = []
    for start in range(0, K, n_jobs):
        ks = list(range(start, min(start + n_jobs, K)))
        if n_jobs == 1:
            res = [_run_fold(feats, spec, ks[0], seed)]
        else:
            res = par(delayed(_run_fold)(feats, spec, k, seed) for k in ks)
        for auc in res:
            aucs.append(auc)
            if prune:
                trial.report(float(np.mean(aucs)), step=len(aucs) - 1)
                if trial.should_prune():
                    raise optuna.TrialPruned()
    return aucs


def _spec_of(trial: optuna.trial.FrozenTrial, data: Level1Data, learners: Sequence[str],
             transforms: Sequence[str], passthrough: Sequence[str]) -> StackSpec:
    spec = suggest_spec(optuna.trial.FixedTrial(trial.params), data.members, learners,
                        transforms, passthrough, len(data.class_names) > 1)
    if spec is None:  # cannot happen for a completed trial
        raise RuntimeError(f"trial {trial.number} has no members")
    return spec


def tune_stack(
    data: Level1Data,
    learner: str | None = None,
    n_trials: int = 30,
    seed: int = 0,
    storage: str | None = None,
    study_name: str | None = None,
    multi_objective: bool = False,
    nested_cv: bool = True,
    nested_trials: int | None = None,
    learners: Sequence[str] = DEFAULT_LEARNERS,
    transforms: Sequence[str] = TRANSFORMS,
    passthrough: Sequence[str] = (),
    n_jobs: int = 1,
    timeout: float | None = None,
) -> StackStudyResult:
    """One Optuna study over the whole stack (TPE, multivariate, seeded by ``seed``).

    Objective: mean over the base (patient-grouped) folds of the macro-AUC of
    the stack fitted on the other folds' OOF; each fold is reported so weak
    trials are pruned. ``learner`` fixes the meta-learner (else ``learners``
    are searched jointly). ``multi_objective`` adds "members count" and, when
    every member has ``member_cost_ms``, "inference ms per ECG" as minimised
    objectives and returns the Pareto front (no pruning in that mode).
    ``nested_cv`` reruns this study (``nested_trials``, default ``n_trials``)
    inside each outer base fold and scores its pick on that fold; it covers the
    stacking study only, not the base models' tuning. ``n_jobs``
    runs folds in parallel threads (each LightGBM fit uses one thread).
    """
    learners = [learner] if learner is not None else list(learners)
    _check_study_args(transforms, n_trials)
    t0 = time.perf_counter()
    study, has_cost = _study(data, n_trials, seed, learners, transforms, passthrough,
                             multi_objective, storage, study_name, n_jobs, timeout)
    elapsed = time.perf_counter() - t0
    states = [t.state for t in study.trials]
    n_complete = sum(s == optuna.trial.TrialState.COMPLETE for s in states)
    if n_complete == 0:
        raise RuntimeError("tune_stack: no trial completed; raise n_trials")
    pareto: list[ParetoPoint] = []
    if multi_objective:
        pareto = _pareto_front(study, data, learners, transforms, passthrough, has_cost)
        best_spec, best_value = pareto[0].spec, pareto[0].auc
    else:
        best_spec = _spec_of(study.best_trial, data, learners, transforms, passthrough)
        best_value = float(study.best_value)
    nested = None
    if nested_cv:
        nested = _nested(data, nested_trials or n_trials, seed, learners, transforms,
                         passthrough, n_jobs)
    value_attr = "values" if multi_objective else "value"
    trials = study.trials_dataframe(
        attrs=("number", "state", value_attr, "params", "user_attrs", "duration"))
    return StackStudyResult(best_spec=best_spec, best_value=best_value, nested=nested,
                            trials=trials, pareto=pareto, n_complete=n_complete,
                            n_pruned=sum(s == optuna.trial.TrialState.PRUNED for s in states),
                            elapsed_s=elapsed)


def _check_study_args(transforms: Sequence[str], n_trials: int) -> None:
    bad = [t for t in transforms if t not in TRANSFORMS]
    if bad or not transforms:
        raise ValueError(f"tune_stack: transforms {list(transforms)} must be a non-empty "
                         f"subset of {TRANSFORMS}")
    if n_trials < 1:
        raise ValueError(f"tune_stack: n_trials must be >= 1, got {n_trials}")


def _pareto_front(study: optuna.Study, data: Level1Data, learners: Sequence[str],
                  transforms: Sequence[str], passthrough: Sequence[str], has_cost: bool
                  ) -> list[ParetoPoint]:
    """The multi-objective study's Pareto-optimal stacks, best AUC first (of trials with
    identical objectives, the earliest)."""
    pareto: list[ParetoPoint] = []
    seen: set[tuple[float, ...]] = set()
    for t in sorted(study.best_trials, key=lambda t: t.number):
        if tuple(t.values) in seen:  # identical objectives: keep the earliest trial
            continue
        seen.add(tuple(t.values))
        pareto.append(ParetoPoint(_spec_of(t, data, learners, transforms, passthrough),
                                  float(t.values[0]), int(t.values[1]),
                                  float(t.values[2]) if has_cost else None, t.number))
    pareto.sort(key=lambda p: -p.auc)
    return pareto


def nested_cv(data: Level1Data, n_trials: int, seed: int = 0,
              learners: Sequence[str] = DEFAULT_LEARNERS, transforms: Sequence[str] = TRANSFORMS,
              passthrough: Sequence[str] = (), n_jobs: int = 1) -> NestedCVResult:
    """The nested-CV estimate of the (single-objective) joint stacking study.

    For each outer base fold k: the study (``n_trials``, seeded ``seed + 1 + k``) runs
    on the other folds' OOF only, its best spec is fitted on them and scores fold k.
    This is the procedure behind :attr:`StackStudyResult.nested`; callers that rerun it
    on a subset of members (:func:`stacking.diversity.drop_one`) get a comparable figure.
    """
    if data.n_folds < 3:
        raise ValueError(f"nested CV needs >= 3 base folds (inner CV over K-1), got "
                         f"{data.n_folds}; pass nested_cv=False")
    aucs: list[float] = []
    specs: list[StackSpec] = []
    oof = np.empty(data.y.shape, dtype=np.float64)
    for k in range(data.n_folds):
        outer = data.folds == k
        inner = data.dev_subset(~outer)
        study, _ = _study(inner, n_trials, seed + 1 + k, learners, transforms, passthrough,
                          False, None, None, n_jobs, None)
        spec = _spec_of(study.best_trial, inner, learners, transforms, passthrough)
        specs.append(spec)
        oof[outer] = fit_predict(data, spec, ~outer, outer, seed)
        aucs.append(macro_auc(data.y[outer], oof[outer]))
    return NestedCVResult(float(np.mean(aucs)), float(np.std(aucs, ddof=1)), aucs, specs, oof)


#: ``nested_cv`` under a name that ``tune_stack``'s own ``nested_cv`` flag does not shadow.
_nested = nested_cv
