"""The bundle manifest: what an export has decided (:class:`ExportPlan`) and the manifest
built from it (everything but the checks that need the written bundle: parity, latency).
"""

from __future__ import annotations

import datetime as dt
import platform
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np

from ensembler.bundle.conformal_io import conformal_entry
from ensembler.bundle.estimates import development_estimate
from ensembler.bundle.feature_io import KIND as FEATURES
from ensembler.bundle.imputation import development_means, tabular_missingness
from ensembler.bundle.manifest_estimates import MemberModeTestAUC
from ensembler.bundle.manifest_metrics import ManifestMetrics, ManifestRow, leaderboard_summary
from ensembler.bundle.run_inputs import RunInputs
from ensembler.data.cohort import Cohort


@dataclass
class ExportPlan:
    """Everything an export decided before writing a file.

    Rows index the cohort: ``test_rows`` (N_test,), ``dev_rows`` (N_dev,), ``check``
    (the records the parity and ONNX checks score). ``tab_all`` (N, F) holds the members'
    tabular inputs ``tab_names``; ``stack_tab`` (N, P) float64 the stack's passthrough."""

    inp: RunInputs
    cohort: Cohort
    mode: str
    mode_reason: str
    test_rows: np.ndarray
    dev_rows: np.ndarray
    check: np.ndarray
    tab_names: list[str]
    tab_all: np.ndarray | None
    stack_tab: np.ndarray | None
    thresholds: list[float | None]
    operating: dict[str, Any]
    mode_auc: dict[str, float | None]
    headline: ManifestMetrics
    own_archs: list[str]

    @property
    def x_check(self) -> np.ndarray:
        return np.asarray(self.cohort.signals[self.check], np.float32)

    @property
    def t_check(self) -> np.ndarray | None:
        return None if self.tab_all is None else np.asarray(self.tab_all[self.check], np.float32)


def build_manifest(plan: ExportPlan, member_entries: list[dict[str, Any]],
                   onnx_info: dict[str, Any], use_onnx: bool) -> dict[str, Any]:
    """The manifest of ``plan`` (before sealing adds the file hashes)."""
    inp, cohort, cfg = plan.inp, plan.cohort, plan.inp.cfg
    first = inp.members[0].predictions
    prep = cfg.data.preprocessing
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": _versions(use_onnx, any(m.kind == FEATURES
                                            for m in inp.members)),
        "run": {"name": cfg.name, "seed": cfg.seed, "run_dir": str(inp.run_dir)},
        "intended_use": cfg.export.intended_use,
        "task": {"type": "binary" if cohort.n_classes == 1 else "multilabel",
                 "class_names": list(cohort.class_names),
                 "output": "calibrated probability per class; decision = p >= threshold"},
        "input": {
            "lead_names": list(cohort.lead_names), "fs": prep.fs,
            "n_samples": int(cohort.signals.shape[-1]), "duration_s": prep.duration_s,
            "preprocessing": prep.model_dump(mode="json", exclude={"n_jobs"}),
            "windowing": {m["name"]: {"window": m["window"], "stride": m["stride"],
                                      "aggregate": m["aggregate"]} for m in member_entries},
            "tabular": _tabular(plan),
        },
        "members": {"mode": plan.mode, "available_modes": list(plan.mode_auc),
                    "list": member_entries},
        "stack": {"name": inp.stack_name, "dir": "stack", "spec": inp.stack.spec.to_dict(),
                  "label": inp.stack.spec.label(), "calibration": inp.stack.calibration_,
                  "calibration_scores": inp.stack.calibration_scores_,
                  "development_estimate": development_estimate(inp).to_json_dict(),
                  "tabular_names": inp.stack.tabular_names},
        "operating": {"thresholds": plan.thresholds,
                      **{k: v for k, v in plan.operating.items() if k != "thresholds"}},
        "metrics": plan.headline.to_json_dict(),
        "member_mode_test_auc": MemberModeTestAUC.of(plan.mode_auc).to_json_dict(),
        "data": _data_summary(cohort, plan.dev_rows, plan.test_rows, cfg, first.fold),
        "fingerprints": {"cohort": first.meta.cohort_fingerprint or cohort.fingerprint,
                         "split": inp.split_fingerprint or first.meta.split_fingerprint},
        "provenance": _provenance(inp, plan.mode_reason),
        "subgroup_columns": list(dict.fromkeys(
            [*cfg.report.subgroups, *map(str, cohort.subgroups.columns)])),
        "onnx": onnx_info,
        "conformal": conformal_entry(
            inp.stack.oof_, cohort.labels[plan.dev_rows], cohort.patient_id[plan.dev_rows],
            list(cohort.class_names), cfg.export.conformal_alpha,
            cfg.export.conformal_margin, plan.mode),
    }


def _tabular(plan: ExportPlan) -> dict[str, Any]:
    names, tab_all, stack_tab = plan.tab_names, plan.tab_all, plan.stack_tab
    dev = plan.dev_rows
    return {
        "names": names,
        "encoding": {n: "numeric as in the training data; blank = missing (NaN), "
                     "standardised with each fold's fitted mean/std; fused models "
                     "add a missing-indicator" for n in names},
        # fraction missing on development rows / each fold's training part
        "missing": tabular_missingness(None if tab_all is None else tab_all[dev], names,
                                       plan.inp.members[0].predictions.fold),
        "stack_imputer": development_means(
            None if stack_tab is None else stack_tab[dev],
            plan.inp.stack.tabular_names if stack_tab is not None else []),
    }


def _versions(onnx: bool, features: bool = False) -> dict[str, str]:
    names = ["ensembler", "torch", "scikit-learn", "lightgbm", "numpy", "scipy", "safetensors"]
    if onnx:
        names += ["onnx", "onnxruntime"]
    if features:  # feature members: the ECG delineation library their features came from
        names += ["neurokit2"]
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def _provenance(inp: RunInputs, mode_reason: str) -> dict[str, str]:
    op = inp.operating or {}
    return {
        "member set, stack configuration and meta-learner hyper-parameters":
            inp.selected.get("chosen_on", "the run's stacking stage on development OOF"),
        "stack shipped": f"{inp.stack_name} (export.stack / --stack, else stack/selected.json)",
        "operating thresholds": op.get("chosen_on", "the stack's meta-level OOF predictions")
        + f" ({op.get('method', 'youden')})",
        "calibration": f"{inp.stack.calibration_} chosen by cross-validated log-loss on the "
        "stack's meta-level out-of-fold predictions (development data)",
        "member mode": mode_reason,
        "test set": "not used for any choice; test metrics are reported as measured once",
        **inp.provenance_extra,
    }


def headline_from_report(inp: RunInputs) -> ManifestMetrics:
    """The manifest's ``metrics`` block from the run's report (fold-average mode)."""
    m = inp.metrics
    if m is None:
        return ManifestMetrics.not_evaluated("not evaluated", "no report/metrics.json in the run")
    row, base = m.row(inp.stack_name), m.row(m.baseline)
    return ManifestMetrics.measured(
        status="evaluated" if row else "stack not in the report", mode="fold-average",
        source="the run's report (report/metrics.json): the fold models' stacked test "
               "predictions",
        thresholds_from="the stack's own meta-level out-of-fold predictions",
        stack=ManifestRow.from_report(row) if row else None,
        baseline=ManifestRow.from_report(base, m.baseline) if base else None,
        leaderboard=leaderboard_summary(m), subgroups=m.subgroups,
        n_test=m.n_test, n_test_patients=m.n_test_patients)


def _data_summary(cohort: Cohort, dev: np.ndarray, test: np.ndarray, cfg: Any,
                  first_fold: np.ndarray) -> dict[str, Any]:
    def part(rows: np.ndarray) -> dict[str, Any]:
        y = cohort.labels[rows]
        return {"records": len(rows), "patients": len(np.unique(cohort.patient_id[rows])),
                "positives": {c: int(y[:, j].sum()) for j, c in enumerate(cohort.class_names)}}

    return {"source": cfg.data.source, "development": part(dev), "test": part(test),
            "split": cfg.split.model_dump(mode="json"),
            "n_folds": int(np.max(np.asarray(first_fold)) + 1) if len(first_fold) else 0}
