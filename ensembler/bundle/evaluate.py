"""External validation: a bundle scored on someone else's labelled records at its fixed thresholds.

Nothing is re-fitted or re-tuned here: the thresholds, calibration and members are
the bundle's. Confidence intervals come from a patient-cluster bootstrap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ensembler.bundle.bundle import Bundle
from ensembler.bundle.conformal_io import conformal_markdown, conformal_report
from ensembler.bundle.flag_report import flag_summary, flags_markdown
from ensembler.bundle.integrity import json_clean
from ensembler.bundle.lengths import LengthPolicy
from ensembler.bundle.manifest_metrics import manifest_metrics
from ensembler.bundle.predict import Predictions, score_loaded
from ensembler.bundle.records import RecordInput, load_records
from ensembler.config import ManifestConfig
from ensembler.data.manifest import read_manifest
from ensembler.data.table import RecordTable
from ensembler.errors import DataError
from ensembler.evaluation import (
    brier,
    calibration_slope_intercept,
    cluster_bootstrap,
    expected_calibration_error,
    operating_point,
    roc_auc,
    subgroup_auc,
)
from ensembler.utils.atomic import FolderExistsError, write_text
from ensembler.utils.jsonclass import to_json_dict


def _per_class(names: list[str], values: np.ndarray) -> dict[str, float]:
    return {c: float(v) for c, v in zip(names, values, strict=True)}


def reference_auc(manifest: dict[str, Any], source: str) -> dict[str, Any] | None:
    """The bundle's own held-out macro test AUC with its CI (None: not evaluated)."""
    metrics = manifest_metrics(manifest, f"{source}/manifest.json")
    stack = metrics.stack if metrics else None
    return None if stack is None else to_json_dict(stack.test_auc)


def evaluate_bundle(bundle: Bundle, manifest_csv: str | Path, *, skip_bad: bool = False,
                    n_boot: int = 1000, seed: int = 0, subgroups: list[str] | None = None,
                    record_column: str = "record", patient_column: str = "patient_id",
                    min_subgroup_n: int = 30, ece_bins: int = 10, missing: str = "error",
                    policy: LengthPolicy = LengthPolicy()) -> dict[str, Any]:
    """Score a labelled CSV manifest and return the validation report (JSON-ready dict).

    The CSV needs ``record`` (path relative to the CSV), ``patient_id`` and one 0/1
    column per class of the bundle, plus the bundle's tabular columns (missing values
    raise DataError naming the records unless ``missing="impute"``, as in ``predict``);
    subgroup columns are optional. ``policy``: the record-length rule. The report's
    ``flags`` section counts flagged records and gives the macro AUC without them.
    """
    csv = Path(manifest_csv)
    table = _labelled_table(bundle, csv, subgroups, record_column, patient_column)
    scored = _score_table(bundle, table, csv, skip_bad, missing, policy)
    y, p, groups = scored.y, scored.preds.proba, scored.groups
    sub, sub_cols = scored.subgroups, list(scored.subgroups.columns)
    report: dict[str, Any] = {
        "bundle": {"digest": bundle.digest, "stack": bundle.manifest["stack"]["label"],
                   "member_mode": bundle.member_mode},
        "data": _data_section(bundle.class_names, csv, scored, missing, policy),
        **_metric_sections(bundle, y, p, groups, n_boot, seed, ece_bins),
        "subgroups": {col: [r.as_dict() for r in subgroup_auc(
            y, p, groups, sub[col].to_numpy(), min_n=min_subgroup_n,
            n_boot=n_boot, seed=seed)] for col in sub_cols},
        "reference": reference_auc(bundle.manifest, str(bundle.source or "bundle")),
        "flags": flag_summary(scored.preds.frame, y, p, groups, n_boot=n_boot, seed=seed),
        "conformal": conformal_report(bundle.manifest, y, p, groups, sub, sub_cols, n_boot,
                                      seed),
    }
    return json_clean(report)  # type: ignore[no-any-return]


def _labelled_table(bundle: Bundle, csv: Path, subgroups: list[str] | None,
                    record_column: str, patient_column: str) -> RecordTable:
    """The labelled CSV read with the bundle's classes, the tabular columns it has and
    the subgroup columns asked for (default: the bundle's) that it has."""
    header = list(pd.read_csv(csv, nrows=0).columns) if csv.is_file() else []
    classes = bundle.class_names
    no_label = [c for c in classes if c not in header]
    if csv.is_file() and no_label:
        raise DataError(f"{csv}: label column(s) {no_label} missing; the bundle predicts "
                        f"{classes}")
    wanted_sub = subgroups if subgroups is not None else \
        list(bundle.manifest.get("subgroup_columns", []))
    return read_manifest(ManifestConfig(
        path=str(csv), record_column=record_column, patient_column=patient_column,
        label_columns=classes, tabular_columns=[n for n in bundle.tabular_names if n in header],
        subgroup_columns=[c for c in wanted_sub if c in header]))


@dataclass
class _Scored:
    """The N records scored, in table order: ``preds``, their labels ``y`` (N, C),
    patient ids ``groups`` (N,) and ``subgroups`` (N rows; records that could not be read
    left out); ``missing_tab``: the bundle's tabular inputs the CSV lacks."""

    preds: Predictions
    y: np.ndarray
    groups: np.ndarray
    subgroups: pd.DataFrame
    missing_tab: list[str]


def _score_table(bundle: Bundle, table: RecordTable, csv: Path, skip_bad: bool,
                 missing: str, policy: LengthPolicy) -> _Scored:
    """Load and score the table's records (``skip_bad``: drop unreadable ones, listed in
    the predictions' ``failed``); DataError when none could be scored."""
    tab_cols = list(table.tabular_names)
    records = [RecordInput(str(rid), Path(path), {n: float(v) for n, v in
                                                  zip(tab_cols, table.tabular[i], strict=True)
                                                  if np.isfinite(v)})
               for i, (rid, path) in enumerate(zip(table.record_id, table.paths, strict=True))]
    missing_tab = [n for n in bundle.tabular_names if n not in tab_cols]
    loaded = load_records(records, bundle.preprocessing, bundle.tabular_names, skip_bad,
                          missing_tab, policy)
    preds = score_loaded(bundle, loaded, missing)
    row_of = {r: i for i, r in enumerate(table.record_id)}
    rows = np.array([row_of[r] for r in loaded.record_id], dtype=np.int64)
    if len(rows) == 0:
        raise DataError(f"{csv}: no record could be scored")
    return _Scored(preds, table.labels[rows], table.patient_id[rows],
                   table.subgroups.iloc[rows].reset_index(drop=True), missing_tab)


def _data_section(classes: list[str], csv: Path, scored: _Scored, missing: str,
                  policy: LengthPolicy) -> dict[str, Any]:
    """What was scored: records, patients, prevalence, failures and input policies."""
    return {"manifest": str(csv), "n_records": len(scored.y),
            "n_patients": len(np.unique(scored.groups)),
            "prevalence": _per_class(classes, scored.y.mean(axis=0)),
            "failed": [{"record": r, "reason": why} for r, why in scored.preds.failed],
            "tabular_missing": scored.missing_tab, "missing_tabular_policy": missing,
            "length_policy": {"sliding_windows": policy.sliding_windows,
                              "pad_short": policy.pad_short}}


def _metric_sections(bundle: Bundle, y: np.ndarray, p: np.ndarray, groups: np.ndarray,
                     n_boot: int, seed: int, ece_bins: int) -> dict[str, Any]:
    """The report's ``auc``, ``operating_point``, ``thresholds`` and ``calibration``
    sections at the bundle's thresholds. ``y``, ``p``: (N, C); ``groups``: (N,)."""
    classes = bundle.class_names
    auc = cluster_bootstrap(y, p, groups, n_boot=n_boot, seed=seed)
    cal = calibration_slope_intercept(y, p)
    return {
        "auc": {"macro": {"point": auc.point, "lo": auc.lo, "hi": auc.hi},
                "per_class": _per_class(classes, roc_auc(y, p).per_class),
                "bootstrap": f"patient-cluster, {n_boot} resamples"},
        "operating_point": operating_point(y, p, bundle.thresholds, groups, n_boot=n_boot,
                                           seed=seed).as_dict(),
        "thresholds": _per_class(classes, bundle.thresholds),
        "calibration": {
            "brier": _per_class(classes, brier(y, p).per_class),
            "ece": _per_class(classes, expected_calibration_error(y, p, ece_bins).per_class),
            "slope": _per_class(classes, cal.slope),
            "intercept": _per_class(classes, cal.intercept)},
    }


def report_markdown(report: dict[str, Any]) -> str:
    """A short human-readable version of :func:`evaluate_bundle`'s report."""

    def f(v: Any) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    d, a = report["data"], report["auc"]["macro"]
    lines = [f"# External validation — bundle {report['bundle']['digest'][:16]}", "",
             f"{d['n_records']} records of {d['n_patients']} patients ({d['manifest']}); "
             f"{len(d['failed'])} could not be read.", "",
             f"Macro ROC AUC: {f(a['point'])} (95% CI {f(a['lo'])}–{f(a['hi'])}, "
             f"{report['auc']['bootstrap']})."]
    ref = report.get("reference")
    if ref:
        lines.append(f"Bundle's own held-out test AUC: {f(ref.get('point'))} "
                     f"({f(ref.get('lo'))}–{f(ref.get('hi'))}).")
    lines += ["", "| class | AUC | threshold | sensitivity | specificity | PPV | NPV | Brier | "
              "ECE | slope |", "|---|---|---|---|---|---|---|---|---|---|"]
    ops = report["operating_point"]["per_class"]
    cal = report["calibration"]
    for c, op in zip(report["auc"]["per_class"], ops, strict=True):
        rates = " | ".join(f"{f(op[r]['point'])} ({f(op[r]['lo'])}–{f(op[r]['hi'])})"
                           for r in ("sensitivity", "specificity", "ppv", "npv"))
        lines.append(f"| {c} | {f(report['auc']['per_class'][c])} | "
                     f"{f(report['thresholds'][c])} | {rates} | {f(cal['brier'][c])} | "
                     f"{f(cal['ece'][c])} | {f(cal['slope'][c])} |")
    for col, rows in report["subgroups"].items():
        lines += ["", f"Subgroup `{col}`:", "", "| value | n | patients | AUC (95% CI) |",
                  "|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['value']} | {r['n']} | {r['n_patients']} | {f(r['auc'])} "
                         f"({f(r['lo'])}–{f(r['hi'])}){' small' if r['small'] else ''} |")
    lines += flags_markdown(report.get("flags"))
    lines += conformal_markdown(report.get("conformal"))
    if d["failed"]:
        lines += ["", "Records not scored:", *[f"- {x['record']}: {x['reason']}"
                                              for x in d["failed"]]]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """Write ``<out>.md`` and ``<out>.json`` (``out`` with or without suffix)."""
    base = Path(out)
    base = base.with_suffix("") if base.suffix in (".md", ".json") else base
    base.parent.mkdir(parents=True, exist_ok=True)
    md, js = base.with_suffix(".md"), base.with_suffix(".json")
    for path in (md, js):  # both or neither: check before writing the first
        if path.is_dir():
            raise FolderExistsError(f"{path}: is a folder; expected a file path to write "
                                    "(--out names the report's base name)")
    write_text(md, report_markdown(report))  # atomic writes
    write_text(js, json.dumps(report, indent=1) + "\n")
    return md, js
