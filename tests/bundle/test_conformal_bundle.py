"""The bundle's conformal calibration: export from meta-level OOF, predict, evaluate."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from ensembler.bundle import evaluate_bundle, export_bundle, load_bundle, predict_inputs
from ensembler.bundle.conformal_io import bundle_conformal, conformal_columns, conformal_entry
from ensembler.bundle.evaluate import report_markdown
from ensembler.conformal import calibrate_conformal, kept_and_decisions, prediction_sets
from ensembler.errors import BundleIntegrityError


@pytest.fixture(scope="module")
def bundle_dir(tiny_run, tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("conformal") / "bundle"
    export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1)
    return out


def _labelled_csv(tiny_run):  # type: ignore[no-untyped-def]
    df = pd.read_csv(tiny_run.record_dir / "manifest.csv", dtype=str)
    ids = tiny_run.cohort.record_id[tiny_run.test_rows].astype(str)
    csv = tiny_run.record_dir / "conformal_labelled.csv"
    df.set_index("record").loc[ids].reset_index().to_csv(csv, index=False)
    return csv


def test_export_calibrates_on_the_stacks_meta_level_oof(bundle_dir, tiny_run) -> None:  # type: ignore[no-untyped-def]
    man = json.loads((bundle_dir / "manifest.json").read_text())
    calib = bundle_conformal(man)
    assert calib is not None and calib.alpha == tiny_run.cfg.export.conformal_alpha == 0.1
    oof = json.loads((tiny_run.run_dir / "stack" / tiny_run.stack_name / "oof.json")
                     .read_text())["oof"]
    dev = np.flatnonzero(tiny_run.fold >= 0)
    c = tiny_run.cohort
    again = calibrate_conformal(np.asarray(oof), c.labels[dev], c.patient_id[dev], 0.1,
                                list(c.class_names))
    assert calib.classes == again.classes
    n_dev_patients = len(set(c.patient_id[dev]))
    assert f"meta-level out-of-fold probabilities of {n_dev_patients} development patients" \
        in man["conformal"]["provenance"]
    card = (bundle_dir / "MODEL_CARD.md").read_text()
    assert "## Prediction sets and abstention" in card and "**Exchangeability.**" in card


def test_predict_adds_sets_and_abstain_from_raw_records(bundle_dir, tiny_run) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(bundle_dir)
    res = predict_inputs(bundle, [_labelled_csv(tiny_run)])
    calib = bundle_conformal(bundle.manifest)
    assert calib is not None
    sets = prediction_sets(calib, res.proba)
    want = ["{" + ",".join(str(k) for k in (0, 1) if s[k]) + "}" for s in sets[:, 0]]
    assert list(res.frame["set_condition"]) == want
    kept, _ = kept_and_decisions(sets)
    assert list(res.frame["abstain"]) == list((~kept).astype(int))
    assert set(res.frame["set_condition"]) <= {"{0}", "{1}", "{0,1}", "{}"}


def test_evaluate_reports_coverage_abstention_and_subgroups(bundle_dir, tiny_run) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(bundle_dir)
    report = evaluate_bundle(bundle, _labelled_csv(tiny_run), n_boot=200)
    sec = report["conformal"]
    y = tiny_run.cohort.labels[tiny_run.test_rows]
    calib = bundle_conformal(bundle.manifest)
    assert calib is not None
    sets = prediction_sets(calib, tiny_run.stacked_test)
    covered = sets[np.arange(len(y)), 0, y[:, 0]].mean()
    cov = sec["overall"]["classes"][0]["coverage"]
    assert cov["point"] == pytest.approx(covered)
    assert cov["lo"] <= cov["point"] <= cov["hi"]
    assert sec["overall"]["abstention"] == pytest.approx(1 - kept_and_decisions(sets)[0].mean())
    assert set(sec["subgroups"]) == {"sex", "age_band", "paced"}
    md = report_markdown(report)
    assert "## Prediction sets (alpha = 0.1" in md and "measured, not guaranteed" in md


def test_no_alpha_ships_no_sets_and_predict_adds_no_columns() -> None:
    y = np.array([[0], [1], [0], [1]])
    assert conformal_entry(np.full((4, 1), 0.5), y, np.arange(4), ["c"], None, 0.05,
                           "fold-average") is None
    man = {"task": {"class_names": ["c"]}}
    assert bundle_conformal(man) is None
    assert list(conformal_columns(man, np.full((3, 1), 0.5)).columns) == []


def test_malformed_or_mismatched_calibration_is_refused(bundle_dir) -> None:  # type: ignore[no-untyped-def]
    man = json.loads((bundle_dir / "manifest.json").read_text())
    bad = copy.deepcopy(man)
    bad["conformal"]["classes"][0]["q_pos"] = "high"
    with pytest.raises(BundleIntegrityError, match=r"conformal: classes\[0\]\.q_pos"):
        bundle_conformal(bad)
    other = copy.deepcopy(man)
    other["task"]["class_names"] = ["MI"]
    with pytest.raises(BundleIntegrityError, match="conformal classes"):
        bundle_conformal(other)


def test_evaluate_skipping_a_bad_record_keeps_subgroups_aligned(bundle_dir, tiny_run) -> None:  # type: ignore[no-untyped-def]
    """With --skip-bad, subgroup and conformal-subgroup sections use the scored records'
    subgroup values (an unreadable record in the middle of the CSV shifts nothing)."""
    bundle = load_bundle(bundle_dir)
    clean = _labelled_csv(tiny_run)
    df = pd.read_csv(clean, dtype=str)
    bad = df.iloc[:1].assign(record="nosuch", patient_id="nobody")
    with_bad = clean.with_name("with_bad.csv")
    pd.concat([df.iloc[:5], bad, df.iloc[5:]]).to_csv(with_bad, index=False)
    want = evaluate_bundle(bundle, clean, n_boot=50)
    got = evaluate_bundle(bundle, with_bad, n_boot=50, skip_bad=True)
    assert [f["record"] for f in got["data"]["failed"]] == ["nosuch"]
    for section in ("subgroups", "conformal", "auc", "flags"):
        assert got[section] == want[section], section
