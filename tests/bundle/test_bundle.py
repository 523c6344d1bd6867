"""Export -> verify -> load -> predict round trip on a real tiny run, and parity."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

from ensembler.bundle import export_bundle, load_bundle, predict_inputs, read_verified
from ensembler.bundle.integrity import MANIFEST
from ensembler.bundle.run_inputs import pipeline_test_predictions, read_run
from ensembler.data.wfdb_io import read_record, write_record
from ensembler.errors import BadRecordError


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("export") / "bundle"
    res = export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=True, zip=True)
    return res


def _test_inputs(tiny_run):  # type: ignore[no-untyped-def]
    rows = tiny_run.test_rows
    c = tiny_run.cohort
    names = ["age", "sex", "pacemaker"]
    tab = c.tabular[:, [c.tabular_names.index(n) for n in names]][rows]
    return np.asarray(c.signals[rows], np.float32), tab


def test_layout_manifest_and_card(exported, tiny_run) -> None:  # type: ignore[no-untyped-def]
    root, man = exported.path, exported.manifest
    assert (root / MANIFEST).is_file() and (root / "MODEL_CARD.md").is_file()
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert on_disk - {MANIFEST} == set(man["files"])
    assert man["members"]["mode"] == "fold-average"
    k = int(tiny_run.fold.max()) + 1
    for m in man["members"]["list"]:
        assert [x["label"] for x in m["models"]] == [f"fold_{i}" for i in range(k)]
    assert all(not f.endswith((".pkl", ".pt", ".joblib", ".npz")) for f in man["files"])
    assert man["input"]["tabular"]["names"] == ["age", "sex", "pacemaker"]
    assert set(man["member_mode_test_auc"]["values"]) == {"fold-average", "refit-full"}
    assert man["parity"]["max_abs_diff"] <= 1e-5
    card = (root / "MODEL_CARD.md").read_text()
    for section in ("## Intended use", "## Training data", "## Test metrics", "## Latency",
                    "## Limitations", "## Verifying this bundle", "Not evaluated"):
        assert section in card
    assert "40 patients" in card  # development patient count from the cohort


def test_parity_with_pipeline_stacked_test(exported, tiny_run) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(exported.path)
    x, tab = _test_inputs(tiny_run)
    p = bundle.predict_proba(x, tab)
    assert p.shape == tiny_run.stacked_test.shape
    np.testing.assert_allclose(p, tiny_run.stacked_test, atol=1e-5, rtol=0)


def test_parity_from_wfdb_files(exported, tiny_run) -> None:  # type: ignore[no-untyped-def]
    """Records read from disk and preprocessed from the manifest's spec match the run."""
    bundle = load_bundle(exported.path)
    manifest = pd.read_csv(tiny_run.record_dir / "manifest.csv", dtype=str)
    ids = tiny_run.cohort.record_id[tiny_run.test_rows].astype(str)
    sub = manifest.set_index("record").loc[ids].reset_index()
    csv = tiny_run.record_dir / "bundle_test_inputs.csv"
    sub[["record", "age", "sex", "pacemaker"]].to_csv(csv, index=False)
    res = predict_inputs(bundle, [csv])
    assert list(res.frame["record"]) == list(ids)
    np.testing.assert_allclose(res.proba, tiny_run.stacked_test, atol=1e-5, rtol=0)
    thr = bundle.thresholds[0]
    assert (res.frame["decision_condition"] == (res.proba[:, 0] >= thr)).all()


def test_single_record_equals_batch(exported, tiny_run) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(exported.path)
    x, tab = _test_inputs(tiny_run)
    batch = bundle.predict_proba(x, tab)
    for i in (0, len(x) // 2, len(x) - 1):
        alone = bundle.predict_proba(x[i : i + 1], tab[i : i + 1])
        np.testing.assert_allclose(alone[0], batch[i], atol=1e-6, rtol=0)


def test_no_pickle_based_loader_is_called(exported, tiny_run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pickle-based loader was called")

    for mod, name in ((torch, "load"), (pickle, "load"), (pickle, "loads"),
                      (joblib, "load"), (np, "load")):
        monkeypatch.setattr(mod, name, refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    bundle = load_bundle(exported.path)
    x, tab = _test_inputs(tiny_run)
    assert np.isfinite(bundle.predict_proba(x[:3], tab[:3])).all()


def test_zip_and_onnx_backends(exported, tiny_run) -> None:  # type: ignore[no-untyped-def]
    assert exported.zip_path is not None and exported.zip_path.is_file()
    x, tab = _test_inputs(tiny_run)
    ref = load_bundle(exported.path).predict_proba(x, tab)
    np.testing.assert_allclose(load_bundle(exported.zip_path).predict_proba(x, tab), ref,
                               atol=1e-7, rtol=0)
    p_onnx = load_bundle(exported.path, backend="onnx").predict_proba(x, tab)
    np.testing.assert_allclose(p_onnx, ref, atol=1e-5, rtol=0)
    diffs = exported.manifest["onnx"]["max_abs_diff_vs_torch"]
    assert len(diffs) == 4 and max(diffs.values()) < 1e-5


def test_refit_full_mode_parity(tiny_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = export_bundle(tiny_run.run_dir, tmp_path / "b", cohort=tiny_run.cohort,
                        members="refit-full", onnx=False, zip=False, latency_repeats=1)
    assert res.manifest["members"]["mode"] == "refit-full"
    bundle = load_bundle(res.path)
    assert bundle.n_sets == 1
    inp = read_run(tiny_run.run_dir)
    ref = pipeline_test_predictions(inp, None, "refit-full")
    x, tab = _test_inputs(tiny_run)
    np.testing.assert_allclose(bundle.predict_proba(x, tab), ref, atol=1e-5, rtol=0)
    # the two modes really are different models
    assert np.max(np.abs(ref - tiny_run.stacked_test)) > 1e-4


def test_eight_lead_records_and_other_sampling_rate(exported, tiny_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(exported.path)
    rid = str(tiny_run.cohort.record_id[tiny_run.test_rows[0]])
    signal, leads, fs = read_record(tiny_run.record_dir / rid)
    keep = [leads.index(n) for n in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")]
    write_record(tmp_path / "eight", signal[:, keep], [leads[i].upper() for i in keep], fs)
    full = predict_inputs(bundle, missing="impute", inputs=[tiny_run.record_dir / rid]).proba
    eight = predict_inputs(bundle, missing="impute", inputs=[tmp_path / "eight"]).proba
    np.testing.assert_allclose(eight, full, atol=2e-3)  # derived limb leads, 1 µV rounding
    up = np.repeat(signal, 2, axis=0)  # 200 Hz version; resampled back to 100 Hz
    write_record(tmp_path / "fast", up, leads, fs * 2)
    fast = predict_inputs(bundle, missing="impute", inputs=[tmp_path / "fast"]).proba
    assert fast.shape == (1, 1) and np.isfinite(fast).all()
    no_v3 = [i for i in keep if leads[i] != "V3"]
    write_record(tmp_path / "nov3", signal[:, no_v3], [leads[i] for i in no_v3], fs)
    with pytest.raises(BadRecordError, match=r"nov3.*V3"):
        predict_inputs(bundle, missing="impute", inputs=[tmp_path / "nov3"])
    res = predict_inputs(bundle, missing="impute", skip_bad=True,
                         inputs=[tmp_path / "nov3", tmp_path / "eight"])
    assert list(res.frame["record"]) == [str(tmp_path / "eight")]
    assert res.failed and "nov3" in res.failed[0][0]


def test_read_verified_reports_files(exported) -> None:  # type: ignore[no-untyped-def]
    vb = read_verified(exported.path)
    assert vb.digest == exported.manifest["manifest_digest"]
    assert set(vb.files) == set(exported.manifest["files"]) | {MANIFEST}
    assert isinstance(Path(exported.path), Path)
