"""A feature member in a bundle: export -> verify -> predict from raw WFDB, with parity.

A tiny real run (one network + one ``ecg_clinical`` LightGBM member, synthetic WFDB
cohort) is exported; the bundle must reproduce the run's stacked test predictions from
the raw records, store only JSON + LightGBM text for the feature member, and refuse a
feature set that is neither registered nor allowed, or of another version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ensembler.bundle import export_bundle, load_bundle
from ensembler.bundle.feature_io import FeatureBundleMember
from ensembler.bundle.integrity import seal
from ensembler.bundle.run_inputs import pipeline_test_predictions, read_run
from ensembler.bundle.weights import verify_bundle
from ensembler.config import RunConfig
from ensembler.errors import BundleIntegrityError
from ensembler.evaluation import roc_auc
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.stack import run_stacking
from ensembler.pipeline.train import run_training

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def feature_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("featbundle") / "run"
    cfg = RunConfig.model_validate({
        "name": "feat-bundle", "seed": 5, "run_dir": str(run_dir),
        "data": {"source": "synthetic",
                 "synthetic": {"n_patients": 36, "ecgs_per_patient": [1, 2],
                               "n_test_patients": 10, "duration_s": 5},
                 "preprocessing": {"fs": 100, "duration_s": 5}},
        "split": {"n_folds": 2, "test": "predefined", "duplicate_check": "off"},
        "training": {"epochs": 1, "batch_size": 32, "crop_s": 2.5, "n_jobs": 1,
                     "backend": "sequential", "device": "cpu"},
        "models": [{"name": "cnn", "arch": "cnn1d", "params": {"filters": [8, 8, 8]}}],
        "feature_members": [{"name": "feat",
                             "lightgbm": {"max_rounds": 30, "min_child_samples": 5}},
                            {"name": "feat_lr", "learner": "logistic",
                             "logistic": {"C": 0.1}}],
        "stacking": {"trials": 2, "learners": ["logistic", "mean"], "nested_cv": False},
        "report": {"n_bootstrap": 100, "latency_repeats": 3},
    })
    ctx = RunContext.create(cfg, run_dir, progress=False)
    run_training(ctx)
    run_stacking(ctx)
    return run_dir


@pytest.fixture(scope="module")
def exported(feature_run: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return export_bundle(feature_run, tmp_path_factory.mktemp("fb") / "bundle", stack="mean",
                         parity=True)


def test_bundle_stores_spec_json_and_lightgbm_text(exported) -> None:  # type: ignore[no-untyped-def]
    man = exported.manifest
    feat = next(e for e in man["members"]["list"] if e["name"] == "feat")
    assert feat["kind"] == "features"
    assert feat["feature_set"]["name"] == "ecg_clinical" and feat["feature_set"]["version"]
    assert feat["feature_versions"]["neurokit2"] == man["versions"]["neurokit2"]
    assert "lightgbm" in man["versions"]
    files = [f for f in man["files"] if f.startswith("members/feat/")]
    assert sorted(Path(f).suffix for f in files) == [".json"] + [".txt"] * 2
    doc = json.loads((exported.path / feat["feature_set_file"]).read_text())
    assert doc["tabular_names"] == ["age", "sex", "pacemaker"]
    assert doc["spec"] == feat["feature_set"]


def test_logistic_member_is_stored_as_json(exported) -> None:  # type: ignore[no-untyped-def]
    man = exported.manifest
    assert "feat_lr" in man["stack"]["spec"]["members"]  # the parity check covers it
    lr = next(e for e in man["members"]["list"] if e["name"] == "feat_lr")
    assert lr["learner"] == "logistic" and all("logistic" in m for m in lr["models"])
    files = sorted(f for f in man["files"] if f.startswith("members/feat_lr/"))
    assert files == ["members/feat_lr/feature_set.json", "members/feat_lr/fold_0/logistic.json",
                     "members/feat_lr/fold_1/logistic.json"]
    doc = json.loads((exported.path / files[1]).read_text())
    n_cols = len(json.loads((exported.path / files[0]).read_text())["columns"]) + 3
    assert doc["C"] == 0.1 and len(doc["medians"]) == len(doc["scales"]) == n_cols
    assert np.asarray(doc["coef"]).shape == (1, n_cols)


def test_parity_from_raw_wfdb(exported, feature_run) -> None:  # type: ignore[no-untyped-def]
    par = exported.manifest["parity"]
    assert par["raw_records"]["ran"] and par["raw_records"]["max_abs_diff"] <= 1e-5
    assert par["max_abs_diff"] <= 1e-5


def test_cli_verify_predict_and_evaluate_match_the_run(exported, feature_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "ensembler.cli"]
    done = subprocess.run([*cli, "verify", str(exported.path)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    from ensembler.data.cache import open_cache

    inp = read_run(feature_run, "mean")
    first = inp.members[0].predictions
    cache = feature_run / "cohort" / str(first.meta.cohort_fingerprint)
    cohort = open_cache(cache)
    meta = pd.read_csv(cache / "metadata.csv", dtype=str, keep_default_na=False)
    where = dict(zip(meta["record_id"], meta["path"], strict=True))
    rows = [list(cohort.record_id.astype(str)).index(str(r)) for r in first.test_record_id]
    names = exported.manifest["input"]["tabular"]["names"]
    table: dict[str, Any] = {"record": [where[str(r)] for r in first.test_record_id]}
    for n in names:
        table[n] = cohort.tabular[rows, cohort.tabular_names.index(n)]
    table["patient_id"] = cohort.patient_id[rows]
    for j, c in enumerate(cohort.class_names):
        table[c] = cohort.labels[rows, j]
    manifest = tmp_path / "records.csv"
    pd.DataFrame(table).to_csv(manifest, index=False)
    out = tmp_path / "preds.csv"
    done = subprocess.run([*cli, "predict", str(exported.path), str(manifest), "--out",
                           str(out), "--pad-short"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    got = pd.read_csv(out)
    ref = pipeline_test_predictions(inp, None, "fold-average")
    cols = [f"prob_{c}" for c in first.class_names]
    assert np.max(np.abs(got[cols].to_numpy() - ref)) <= 1e-5
    done = subprocess.run([*cli, "evaluate", str(exported.path), str(manifest), "--out",
                           str(tmp_path / "validation"), "--pad-short", "--n-bootstrap", "100"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "validation.json").read_text())
    want = roc_auc(cohort.labels[rows], ref).macro
    assert abs(report["auc"]["macro"]["point"] - want) <= 1e-9


def _reseal(src: Path, dst: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    import shutil

    shutil.copytree(src, dst)
    man = json.loads((dst / "manifest.json").read_text())
    edit(man, dst)
    for k in ("files", "file_sizes", "manifest_digest"):
        man.pop(k, None)
    seal(dst, man)
    return dst


def test_user_feature_set_needs_the_loaders_permission(exported, tmp_path) -> None:  # type: ignore[no-untyped-def]
    def user_set(man, root):  # type: ignore[no-untyped-def]
        feat = next(e for e in man["members"]["list"] if e["name"] == "feat")
        feat["feature_set_name"] = "evil_module_not_imported:features"
        doc = json.loads((root / feat["feature_set_file"]).read_text())
        doc["feature_set"] = feat["feature_set_name"]
        (root / feat["feature_set_file"]).write_text(json.dumps(doc))

    b = _reseal(exported.path, tmp_path / "b", user_set)
    for load in (load_bundle, verify_bundle):
        with pytest.raises(BundleIntegrityError, match="not registered and was not allowed"):
            load(b)
    assert "evil_module_not_imported" not in sys.modules
    # allowed explicitly: now it is imported (and fails: there is no such module)
    with pytest.raises(BundleIntegrityError, match="cannot import module"):
        load_bundle(b, allow_arch=["evil_module_not_imported:features"])


def test_other_feature_set_version_is_refused(exported, tmp_path) -> None:  # type: ignore[no-untyped-def]
    def bump(man, root):  # type: ignore[no-untyped-def]
        feat = next(e for e in man["members"]["list"] if e["name"] == "feat")
        feat["feature_set"]["version"] = "0.0-other"
        doc = json.loads((root / feat["feature_set_file"]).read_text())
        doc["spec"]["version"] = "0.0-other"
        (root / feat["feature_set_file"]).write_text(json.dumps(doc))

    b = _reseal(exported.path, tmp_path / "b", bump)
    with pytest.raises(BundleIntegrityError, match="install the matching version"):
        load_bundle(b)


def _test_manifest(feature_run: Path, names: list[str], out: Path, k: int) -> tuple[Path, Any]:
    """A CSV manifest of the first ``k`` test records (raw WFDB paths + tabular inputs)."""
    from ensembler.data.cache import open_cache

    first = read_run(feature_run, "mean").members[0].predictions
    cache = feature_run / "cohort" / str(first.meta.cohort_fingerprint)
    cohort = open_cache(cache)
    meta = pd.read_csv(cache / "metadata.csv", dtype=str, keep_default_na=False)
    where = dict(zip(meta["record_id"], meta["path"], strict=True))
    ids = [str(r) for r in first.test_record_id[:k]]
    rows = [list(cohort.record_id.astype(str)).index(r) for r in ids]
    table: dict[str, Any] = {"record": [where[r] for r in ids]}
    for n in names:
        table[n] = cohort.tabular[rows, cohort.tabular_names.index(n)]
    pd.DataFrame(table).to_csv(out, index=False)
    return out, cohort


def test_explain_attributes_the_feature_member_by_lead(exported, feature_run, tmp_path,  # type: ignore[no-untyped-def]
                                                       monkeypatch, capsys) -> None:
    """pred_contrib of the feature member: per lead, global and tabular parts plus the bias
    give each fold booster's raw score (averaged), and the stack's per-lead importance
    takes the feature member's share into account."""
    from clirun import run_cli

    from ensembler.bundle.records import collect_inputs, load_records
    from ensembler.explain.features import column_owner, feature_attribution
    from ensembler.training.feature_member import learner_input

    bundle = load_bundle(exported.path)
    csv, _ = _test_manifest(feature_run, bundle.tabular_names, tmp_path / "two.csv", 2)
    out = tmp_path / "maps"
    code = run_cli(monkeypatch, "explain", str(exported.path), str(csv), "--out", str(out),
                   "--method", "gxi")
    assert code == 0, capsys.readouterr().err
    docs = {(d := json.loads(p.read_text()))["record"]: d for p in sorted(out.glob("*.json"))}
    assert len(docs) == 2 and len(list(out.glob("*.png"))) == 2
    # the booster raw scores (log-odds), mean over fold boosters, computed here
    feat = next(m for m in bundle.members if m.name == "feat")
    assert isinstance(feat, FeatureBundleMember)
    recs, absent = collect_inputs([str(csv)], bundle.tabular_names)
    loaded = load_records(recs, bundle.preprocessing, bundle.tabular_names, False, absent)
    tab = bundle._columns(loaded.tabular, feat.tabular_names, len(loaded.record_id))
    x = learner_input(feat.features(loaded.signals), tab)
    raw = np.mean([fm.boosters[0].predict(x, raw_score=True,
                                          num_iteration=fm.boosters[0].best_iteration or None)
                   for fm in feat.models], axis=0)
    for i, rec in enumerate(loaded.record_id):
        part = docs[rec]["feature_members"]["feat"]
        assert list(part["per_lead"]) == bundle.lead_names
        assert part["global_features"] and set(part["tabular"]) == set(feat.tabular_names)
        total = sum(part["per_lead"].values()) + sum(part["global_features"].values()) \
            + sum(part["tabular"].values()) + part["bias"]
        assert total == pytest.approx(raw[i], abs=1e-5)  # TreeSHAP is exact
        assert len(docs[rec]["lead_importance"]["feat"]) == 12
        assert set(docs[rec]["stack"]["shares"]) == {*bundle.stack.spec.members, "tabular"}
        for m in bundle.members:  # every feature member, LightGBM or logistic, by lead
            if isinstance(m, FeatureBundleMember):
                assert list(docs[rec]["feature_members"][m.name]["per_lead"]) \
                    == bundle.lead_names
        # the stack's per-lead |share| + the parts off the leads never exceed its |shares|
        shares = docs[rec]["stack"]["shares"]
        placed = sum(docs[rec]["lead_importance"]["stack"]) \
            + docs[rec]["stack_outside_leads"]["global_features"] \
            + docs[rec]["stack_outside_leads"]["tabular"]
        assert placed <= sum(abs(v) for v in shares.values()) + 1e-6
        assert docs[rec]["stack_outside_leads"]["global_features"] > 0
    fa = feature_attribution(feat, loaded.signals, [tab] * len(feat.models), 0)
    assert {column_owner(c, bundle.lead_names, feat.tabular_names) for c in fa.columns} \
        == {*bundle.lead_names, "global", "tabular"}


def test_explain_summary_has_a_feature_member_row(exported, feature_run, tmp_path,  # type: ignore[no-untyped-def]
                                                  monkeypatch, capsys) -> None:
    from clirun import run_cli

    bundle = load_bundle(exported.path)
    csv, _ = _test_manifest(feature_run, bundle.tabular_names, tmp_path / "three.csv", 3)
    out = tmp_path / "summary"
    code = run_cli(monkeypatch, "explain", str(exported.path), str(csv), "--out", str(out),
                   "--method", "gxi", "--summary", "3")
    assert code == 0, capsys.readouterr().err
    doc = json.loads((out / "summary_condition.json").read_text())
    assert set(doc["per_lead"]) == {"stack", *load_bundle(exported.path).stack.spec.members}
    assert "feat" in doc["per_lead"]
    assert all(len(v) == 12 for v in doc["per_lead"].values())
    assert sum(doc["per_lead"]["feat"].values()) > 0
    assert "| feat |" in capsys.readouterr().out
