"""``ensembler explain`` from a real bundle on raw WFDB records (PNG + JSON per record)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from clirun import run_cli


@pytest.fixture(scope="module")
def bundle_dir(tiny_run, tmp_path_factory):  # type: ignore[no-untyped-def]
    from ensembler.bundle import export_bundle

    out = tmp_path_factory.mktemp("explain") / "bundle"
    export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1)
    return out


def _records(tiny_run, k: int = 2) -> list[str]:  # type: ignore[no-untyped-def]
    """A CSV manifest of k test records with their tabular inputs (as predict takes them)."""
    import pandas as pd

    df = pd.read_csv(tiny_run.record_dir / "manifest.csv", dtype=str)
    ids = tiny_run.cohort.record_id[tiny_run.test_rows[:k]].astype(str)
    csv = tiny_run.record_dir / f"explain_{k}.csv"
    df.set_index("record").loc[ids].reset_index()[["record", "age", "sex", "pacemaker"]] \
        .to_csv(csv, index=False)
    return [str(csv)]


@pytest.mark.slow
def test_explain_writes_png_and_json_matching_predict(bundle_dir, tiny_run, tmp_path,  # type: ignore[no-untyped-def]
                                                      monkeypatch, capsys) -> None:
    from ensembler.bundle import load_bundle, predict_inputs

    out = tmp_path / "maps"
    recs = _records(tiny_run)
    code = run_cli(monkeypatch, "explain", str(bundle_dir), *recs, "--out", str(out),
                   "--steps", "8")
    assert code == 0, capsys.readouterr().err
    bundle = load_bundle(bundle_dir)
    pred = predict_inputs(bundle, recs)
    assert len(pred.frame) == 2
    for i, rec in enumerate(pred.frame["record"]):
        stem = out / f"{rec.replace('/', '_')}_condition"
        assert stem.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        doc = json.loads(stem.with_suffix(".json").read_text())
        assert doc["probability"] == pytest.approx(pred.proba[i, 0], abs=1e-9)
        assert set(doc["stack"]["shares"]) == {*bundle.stack.spec.members, "tabular"}
        assert doc["prediction"]["record"] == rec
        assert len(doc["lead_importance"]["stack"]) == 12
        smap = np.asarray(doc["stack_map"])
        assert smap.shape == (12, bundle.n_samples)
        # the stack map carries the members' |shares| in total
        members = [m for m in doc["member_maps"]]
        want = sum(abs(doc["stack"]["shares"][m]) for m in members
                   if np.abs(doc["member_maps"][m]).sum() > 0)
        assert np.abs(smap).sum() <= want + 1e-4
    assert "largest share" in capsys.readouterr().out


def test_explain_bad_class_and_missing_record_write_nothing(bundle_dir, tiny_run, tmp_path,  # type: ignore[no-untyped-def]
                                                            monkeypatch, capsys) -> None:
    out = tmp_path / "none"
    assert run_cli(monkeypatch, "explain", str(bundle_dir), *_records(tiny_run, 1),
                   "--class", "MI", "--out", str(out)) != 0
    err = capsys.readouterr().err
    assert "unknown class 'MI'" in err and "Traceback" not in err
    bad = tmp_path / "bad.csv"
    bad.write_text("record,age,sex,pacemaker\nno_such_record,50,1,0\n")
    assert run_cli(monkeypatch, "explain", str(bundle_dir), str(bad), "--out", str(out)) != 0
    assert "Traceback" not in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_explain_summary_over_the_first_records_by_id(bundle_dir, tiny_run, tmp_path,  # type: ignore[no-untyped-def]
                                                      monkeypatch, capsys) -> None:
    out = tmp_path / "summary"
    csv = _records(tiny_run, 3)
    code = run_cli(monkeypatch, "explain", str(bundle_dir), *csv, "--out", str(out),
                   "--method", "gxi", "--summary", "2")
    assert code == 0, capsys.readouterr().err
    doc = json.loads((out / "summary_condition.json").read_text())
    ids = sorted(tiny_run.cohort.record_id[tiny_run.test_rows[:3]].astype(str))[:2]
    assert doc["records"] == ids and doc["n_records"] == 2 and doc["method"] == "gxi"
    assert set(doc["per_lead"]) == {"stack", "cnn", "fused"}
    assert len(doc["per_lead"]["stack"]) == 12
    assert "| stack |" in capsys.readouterr().out
    assert not list(out.glob("*.png"))
