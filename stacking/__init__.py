"""Level-1 stacking on out-of-fold predictions (numpy/scikit-learn/lightgbm/optuna; no torch).

Array-level API: build a :class:`Level1Data` from the members' OOF and per-fold
test predictions, then :func:`named_stacks` / :func:`tune_stack` give
:class:`StackSpec` s and :func:`fit_stack` turns a spec into a servable
:class:`FittedStack`. :mod:`stacking.diversity` says why a stack helps or not
(within-class correlation, drop-one nested reruns, greedy path, contributions).
"""

from stacking.calibration import (
    CALIBRATION_METHODS,
    CalibrationChoice,
    Calibrator,
    calibrate_member,
    choose_calibration,
)
from stacking.data import Level1Data
from stacking.diversity import (
    ClassContribution,
    ClassCorrelation,
    DropOneResult,
    GreedyPath,
    drop_one,
    greedy_path,
    member_contributions,
    within_class_correlation,
)
from stacking.features import TRANSFORMS, RankState, build_meta_features, column_names
from stacking.learners import (
    LEARNERS,
    BestSingle,
    GreedyEnsembleSelection,
    LightGBMStacker,
    LogisticStacker,
    MeanStacker,
    WeightedStacker,
    create_learner,
)
from stacking.metrics import binary_auc, binary_log_loss, macro_auc
from stacking.model import FittedStack, StackModel, fit_stack
from stacking.named import best_member, named_stacks
from stacking.search import DEFAULT_LEARNERS, suggest_spec
from stacking.spec import StackSpec
from stacking.tuning import (
    NestedCVResult,
    ParetoPoint,
    StackStudyResult,
    nested_cv,
    pareto_pick,
    tune_stack,
)

__all__ = [
    "CALIBRATION_METHODS",
    "DEFAULT_LEARNERS",
    "LEARNERS",
    "TRANSFORMS",
    "BestSingle",
    "CalibrationChoice",
    "Calibrator",
    "ClassContribution",
    "ClassCorrelation",
    "DropOneResult",
    "FittedStack",
    "GreedyEnsembleSelection",
    "GreedyPath",
    "Level1Data",
    "LightGBMStacker",
    "LogisticStacker",
    "MeanStacker",
    "NestedCVResult",
    "ParetoPoint",
    "RankState",
    "StackModel",
    "StackSpec",
    "StackStudyResult",
    "WeightedStacker",
    "best_member",
    "binary_auc",
    "binary_log_loss",
    "build_meta_features",
    "calibrate_member",
    "choose_calibration",
    "column_names",
    "create_learner",
    "drop_one",
    "fit_stack",
    "greedy_path",
    "macro_auc",
    "member_contributions",
    "named_stacks",
    "nested_cv",
    "pareto_pick",
    "suggest_spec",
    "tune_stack",
    "within_class_correlation",
]
