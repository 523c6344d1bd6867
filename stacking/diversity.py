"""Why a stack helps or not: how its members differ, measured on development OOF.

Array-level (numpy/scikit-learn only). Four views:

- :func:`within_class_correlation`: Pearson correlation of the members' log-odds per
  class, among the positives and among the negatives separately (and over all rows, for
  contrast). Over all rows two members that both separate the classes correlate
  strongly *because* both move with the label; within one label value that shared part
  is gone and what is left is whether they make the same errors, which is what limits
  what a stack can gain from combining them.
- :func:`drop_one`: the nested stacking procedure (:func:`stacking.nested_cv`) rerun
  without each member in turn, so the difference in nested estimate says what the
  *procedure* loses without it (not what zeroing a weight of a fitted stack does). The
  nested out-of-fold scores are returned so a caller can put a paired CI on it.
- :func:`greedy_path`: the order in which greedy ensemble selection adds members and
  its score after each addition.
- :func:`member_contributions`: each member's mean absolute additive contribution to a
  fitted stack's score (:mod:`stacking.explain`) and, for blends, its weight.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stacking.data import Level1Data
from stacking.explain import member_shares, stack_contributions
from stacking.features import TRANSFORMS, RankState, build_meta_features
from stacking.learners import GreedyEnsembleSelection
from stacking.learners._blend import _Blender
from stacking.model import FittedStack, StackModel, stack_features
from stacking.search import DEFAULT_LEARNERS
from stacking.spec import StackSpec
from stacking.tuning import NestedCVResult, nested_cv

__all__ = ["ClassContribution", "ClassCorrelation", "DropOneResult", "GreedyPath",
           "drop_one", "greedy_path", "member_contributions", "within_class_correlation"]


@dataclass(frozen=True)
class ClassCorrelation:
    """One class's (M, M) correlation matrices, rows and columns in ``members`` order.

    ``positives`` / ``negatives``: Pearson correlation of the members' log-odds among
    the ``n_pos`` rows labelled 1 / the ``n_neg`` rows labelled 0; ``unconditional``:
    over all rows. NaN where a member is constant within the rows.
    """

    name: str
    members: list[str]
    positives: NDArray[np.float64]
    negatives: NDArray[np.float64]
    unconditional: NDArray[np.float64]
    n_pos: int
    n_neg: int


def _corr(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """(M, M) Pearson correlation of the columns of ``x`` (n, M); NaN for a constant one."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.atleast_2d(np.corrcoef(x, rowvar=False))


def within_class_correlation(data: Level1Data, members: Sequence[str] | None = None
                             ) -> list[ClassCorrelation]:
    """Per class, the members' log-odds correlation within positives and within negatives.

    Log-odds are the level-1 ``logit`` transform (probabilities clipped to [1e-6, 1-1e-6]).
    """
    names = list(members) if members is not None else list(data.members)
    X, _ = build_meta_features(data.oof, names, data.class_names, "logit")
    n_classes = len(data.class_names)
    out = []
    for j, cname in enumerate(data.class_names):
        cols = X[:, [i * n_classes + j for i in range(len(names))]]  # member-major columns
        pos = data.y[:, j] == 1
        out.append(ClassCorrelation(cname, names, _corr(cols[pos]), _corr(cols[~pos]),
                                    _corr(cols), int(pos.sum()), int((~pos).sum())))
    return out


@dataclass
class DropOneResult:
    """The nested procedure with every member (``reference``) and without each one.

    ``without[m]`` is the nested-CV result of the same study with member ``m`` removed
    (its ``oof`` holds the nested out-of-fold scores); ``seconds[m]`` its wall time;
    ``n_trials`` the trials of every inner study.
    """

    reference: NestedCVResult
    without: dict[str, NestedCVResult]
    seconds: dict[str, float]
    n_trials: int

    def effect(self, member: str) -> float:
        """Nested estimate with every member minus without ``member`` (> 0: it adds)."""
        return self.reference.mean - self.without[member].mean


def drop_one(data: Level1Data, n_trials: int, seed: int = 0,
             learners: Sequence[str] = DEFAULT_LEARNERS, transforms: Sequence[str] = TRANSFORMS,
             passthrough: Sequence[str] = (), n_jobs: int = 1,
             reference: NestedCVResult | None = None) -> DropOneResult:
    """Rerun :func:`stacking.nested_cv` once per member, without that member.

    ``reference``: the nested result with every member under the same settings (e.g.
    the one the stacking stage computed); computed here when None. It must carry its
    ``oof`` scores.
    """
    if len(data.members) < 2:
        raise ValueError(f"drop_one: needs at least 2 members, got {data.members}")

    def study(d: Level1Data) -> NestedCVResult:
        return nested_cv(d, n_trials, seed, learners, transforms, passthrough, n_jobs)

    ref = reference if reference is not None else study(data)
    if ref.oof is None or ref.oof.shape != data.y.shape:
        raise ValueError("drop_one: the reference nested result has no out-of-fold scores "
                         f"of shape {data.y.shape}")
    without: dict[str, NestedCVResult] = {}
    seconds: dict[str, float] = {}
    for m in data.members:
        t0 = time.perf_counter()
        rest = data.with_members([x for x in data.members if x != m])
        without[m] = study(rest)
        seconds[m] = time.perf_counter() - t0
    return DropOneResult(ref, without, seconds, n_trials)


@dataclass(frozen=True)
class GreedyPath:
    """One class's greedy selection: ``steps`` as (member added, score after it).

    ``best_step`` (0-based) is the step whose member counts became ``weights``;
    ``metric`` the score (``auc`` or ``-log_loss``), computed on the rows it was fitted on.
    """

    name: str
    steps: list[tuple[str, float]]
    best_step: int
    weights: dict[str, float]
    metric: str


def _fit_final(data: Level1Data, spec: StackSpec, seed: int) -> StackModel:
    """``spec`` fitted on all development rows (the final model of :func:`fit_stack`)."""
    rs = (RankState.fit(data.oof, spec.members, data.class_names) if spec.transform == "rank"
          else None)
    X, names = stack_features(data.oof, spec, data.class_names, rs, data.tabular_dev,
                              data.tabular_names)
    return StackModel(spec, data.class_names, names, seed).fit(X, data.y, groups=data.groups)


def greedy_path(data: Level1Data, spec: StackSpec, seed: int = 0) -> list[GreedyPath]:
    """The greedy learner of ``spec`` fitted on all development OOF, step by step per class.

    A class with one label value only has no path (empty ``steps``).
    """
    if spec.learner != "greedy":
        raise ValueError(f"greedy_path: spec learner is {spec.learner!r}, expected 'greedy'")
    model = _fit_final(data, spec, seed)
    metric = "auc" if spec.params.get("metric", "auc") == "auc" else "-log_loss"
    out = []
    for cname, est in zip(data.class_names, model.estimators_, strict=True):
        if not isinstance(est, GreedyEnsembleSelection):
            out.append(GreedyPath(cname, [], 0, {}, metric))
            continue
        steps = [(spec.members[j], score) for j, score in est.path_]
        weights = {m: float(w) for m, w in zip(spec.members, est.weights_, strict=True)}
        out.append(GreedyPath(cname, steps, int(est.best_step_), weights, metric))
    return out


@dataclass(frozen=True)
class ClassContribution:
    """One class of a fitted stack: each member's (and ``"tabular"``'s) contribution.

    ``mean_abs``: mean over the given rows of |additive contribution| to the learner's
    raw score (on ``scale``; ``method`` says how it was apportioned); ``share``: the
    same normalised to sum 1; ``weights``: the blend weights (blends only, else None).
    """

    name: str
    mean_abs: dict[str, float]
    share: dict[str, float]
    weights: dict[str, float] | None
    scale: str
    method: str


def member_contributions(fitted: FittedStack, data: Level1Data) -> list[ClassContribution]:
    """Per class, how much each member of ``fitted`` moves its score on ``data``'s OOF rows."""
    members = list(fitted.spec.members)
    tab = None
    if fitted.tabular_names:
        if data.tabular_dev is None:
            raise ValueError("member_contributions: the stack reads tabular columns "
                             f"{fitted.tabular_names} but the data has none")
        tab = data.tabular_dev[:, [data.tabular_names.index(t) for t in fitted.tabular_names]]
    out = []
    contribs = stack_contributions(fitted, {m: data.oof[m] for m in members}, tab)
    for j, cc in enumerate(contribs):
        shares = member_shares(cc, members)
        if not fitted.tabular_names:
            shares.pop("tabular")
        mean_abs = {k: float(np.mean(np.abs(v))) for k, v in shares.items()}
        total = sum(mean_abs.values())
        share = {k: (v / total if total > 0 else float("nan")) for k, v in mean_abs.items()}
        est = fitted.model.estimators_[j]
        weights = ({m: float(w) for m, w in zip(members, est.weights_, strict=True)}
                   if isinstance(est, _Blender) else None)
        out.append(ClassContribution(cc.name, mean_abs, share, weights, cc.scale, cc.method))
    return out
