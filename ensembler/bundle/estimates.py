"""The numbers a bundle states about itself: its development estimate and, for
refit-full bundles, held-out metrics of the models actually shipped.

The development estimate of a tuned stack is its nested CV (``stack/study.json``);
the inner CV score it was selected on is kept, labelled optimistic. A refit-full
bundle's headline is measured on the refit-full models' own stacked test
predictions, never borrowed from the fold-average stack of the report.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ensembler.bundle.manifest_estimates import DevelopmentEstimate
from ensembler.bundle.manifest_metrics import ManifestMetrics, ManifestRow, leaderboard_summary
from ensembler.bundle.run_inputs import RunInputs
from ensembler.evaluation import (
    operating_point,
    patient_weights,
    percentile_ci,
    roc_auc,
    weighted_auc,
)
from ensembler.evaluation._checks import evaluable_classes
from ensembler.report.schema import CI, OperatingPoints
from ensembler.training.distill import OPTIMISTIC, PREFIX
from ensembler.utils.jsonclass import from_json_dict

__all__ = ["INNER_LABEL", "development_estimate", "refit_full_headline"]

INNER_LABEL = "inner CV, optimistic (selected on these folds)"


def _study(inp: RunInputs) -> dict[str, Any]:
    path = inp.run_dir / "stack" / "study.json"
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def development_estimate(inp: RunInputs) -> DevelopmentEstimate:
    """What the card quotes as the shipped stack's development macro AUC.

    ``kind`` is ``"nested_cv"`` (tuned stack with nested CV), ``"meta_oof"`` (a fixed
    recipe: its meta-level OOF is honest) or ``"none"`` (a stack chosen on the score, with
    no nested CV: only the optimistic score exists; or a distilled student).
    """
    fitted = inp.stack
    if inp.stack_name.startswith(PREFIX):  # a distilled student
        return DevelopmentEstimate.none(
            "no unbiased development estimate: a student's development predictions are "
            f"optimistic ({OPTIMISTIC}: its targets came from models fitted on its rows' "
            "labels), or, without fold students, are the teacher's; judge it on the test set")
    folds = [float(a) for a in fitted.fold_aucs_]
    sd = float(np.std(folds, ddof=1)) if len(folds) > 1 else float("nan")
    study = _study(inp).get(inp.stack_name)
    selected = study is not None or inp.stack_name == "best_single"
    nested = (study or {}).get("nested")
    if nested:
        return DevelopmentEstimate(
            kind="nested_cv", mean=float(nested["mean"]), sd=float(nested["sd"]),
            fold_aucs=list(nested["fold_aucs"]),
            label=f"nested CV over the stacking study (mean ± sd over "
                  f"{len(nested['fold_aucs'])} outer folds; member tuning and training sit "
                  "outside it)", inner_cv_auc=fitted.cv_auc_, inner_cv_label=INNER_LABEL)
    if selected:
        why = ("the best single member was chosen on this score" if study is None
               else "stacking.nested_cv was off for this stack (nested CV runs for the "
                    "joint stack only)")
        return DevelopmentEstimate.none(f"no unbiased development estimate: {why}",
                                        fitted.cv_auc_, INNER_LABEL)
    return DevelopmentEstimate(
        kind="meta_oof", mean=fitted.cv_auc_, sd=sd, fold_aucs=folds,
        label="meta-level out-of-fold macro AUC of a fixed recipe (mean ± sd over "
              f"{len(folds)} folds; nothing was selected on it)",
        inner_cv_auc=None, inner_cv_label=None)


def _ci(point: float, samples: np.ndarray) -> CI:
    lo, hi = percentile_ci(samples)
    return CI(point=float(point), lo=lo, hi=hi)


def refit_full_headline(inp: RunInputs, y_test: np.ndarray, groups_test: np.ndarray,
                        p_test: np.ndarray, thresholds: list[float | None],
                        n_boot: int, seed: int) -> ManifestMetrics:
    """Held-out metrics of the refit-full stack, in the layout of the report's rows.

    Args:
        y_test: (N_test, C) labels; groups_test: (N_test,) patient ids.
        p_test: (N_test, C) the refit-full stack's test predictions.
        thresholds: (C,) from the fold models' meta-level OOF (refit models have none).
    """
    names = list(inp.stack.class_names)
    if not len(y_test):
        return ManifestMetrics.not_evaluated("not evaluated for this mode",
                                             "the run has no test set")
    ok = evaluable_classes(y_test)
    w = patient_weights(groups_test, n_boot, seed)
    boot = weighted_auc(y_test, p_test, w)
    auc = roc_auc(y_test, p_test)
    thr = np.array([np.nan if t is None else t for t in thresholds], dtype=np.float64)
    op = operating_point(y_test, p_test, thr, groups_test, weights=w).as_dict()
    stack = ManifestRow.measured(
        test_auc=_ci(auc.macro, boot[:, ok].mean(axis=1)),
        test_auc_per_class={n: _ci(auc.per_class[c], boot[:, c]) if ok[c] else None
                            for c, n in enumerate(names)},
        operating_point=from_json_dict(OperatingPoints, op, "refit-full operating_point"))
    return ManifestMetrics.measured(
        status="evaluated", mode="refit-full",
        source="the refit-full models' own stacked test predictions, measured at export "
               f"(patient-cluster bootstrap, {n_boot} resamples)",
        thresholds_from="the fold models' stack: its meta-level out-of-fold predictions on "
                        "development data (refit-full models have no out-of-fold "
                        "predictions); the calibrator likewise",
        stack=stack, baseline=None, leaderboard=leaderboard_summary(inp.metrics),
        leaderboard_note="the report's stack rows describe the fold models (fold-average), "
                         "not the refit-full models shipped here; its `<member>:refit_full` "
                         "rows are each member's single refit-full network on its own",
        subgroups=None, n_test=len(y_test), n_test_patients=len(np.unique(groups_test)))
