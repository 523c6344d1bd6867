"""Pure evaluation metrics: ranking, patient-cluster bootstrap, paired tests,
operating points, calibration, subgroups and latency.

Every function takes plain arrays (labels (N, C), scores (N, C), patient ids
(N,)) and is tested against scikit-learn where it has the metric. Multi-label
inputs are macro-averaged over the classes that have both labels.
"""

from __future__ import annotations

from ensembler.evaluation.bootstrap import (
    BootstrapCI,
    PairedDelta,
    bootstrap_p_value,
    cluster_bootstrap,
    macro_auc_samples,
    paired_bootstrap_delta,
    paired_delta_from_samples,
    patient_weights,
    percentile_ci,
)
from ensembler.evaluation.calibration import (
    CalibrationFit,
    ReliabilityCurve,
    brier,
    calibration_slope_intercept,
    expected_calibration_error,
    reliability_curve,
)
from ensembler.evaluation.delong import DeLongResult, delong_test, delong_test_naive, holm
from ensembler.evaluation.latency import LatencyStats, measure_latency
from ensembler.evaluation.ranking import ClassScores, average_precision, roc_auc, weighted_auc
from ensembler.evaluation.subgroups import SubgroupAUC, subgroup_auc
from ensembler.evaluation.threshold import (
    Estimate,
    OperatingPoint,
    OperatingPoints,
    choose_threshold,
    operating_point,
)

__all__ = [
    "BootstrapCI",
    "CalibrationFit",
    "ClassScores",
    "DeLongResult",
    "Estimate",
    "LatencyStats",
    "OperatingPoint",
    "OperatingPoints",
    "PairedDelta",
    "ReliabilityCurve",
    "SubgroupAUC",
    "average_precision",
    "bootstrap_p_value",
    "brier",
    "calibration_slope_intercept",
    "choose_threshold",
    "cluster_bootstrap",
    "delong_test",
    "delong_test_naive",
    "expected_calibration_error",
    "holm",
    "macro_auc_samples",
    "measure_latency",
    "operating_point",
    "paired_bootstrap_delta",
    "paired_delta_from_samples",
    "patient_weights",
    "percentile_ci",
    "reliability_curve",
    "roc_auc",
    "subgroup_auc",
    "weighted_auc",
]
