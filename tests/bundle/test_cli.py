"""The five bundle commands through the real entry point: outputs and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from clirun import run_cli


@pytest.fixture(scope="module")
def cli_bundle(tiny_run, tmp_path_factory):  # type: ignore[no-untyped-def]
    from ensembler.bundle import export_bundle

    out = tmp_path_factory.mktemp("cli") / "bundle"
    export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1)
    return out


def _test_manifest(tiny_run, folder: Path) -> Path:  # type: ignore[no-untyped-def]
    df = pd.read_csv(tiny_run.record_dir / "manifest.csv", dtype=str)
    ids = set(tiny_run.cohort.record_id[tiny_run.test_rows].astype(str))
    csv = folder / "labelled.csv"
    df[df["record"].isin(ids)].to_csv(csv, index=False)
    return csv


def test_export_command_writes_bundle_and_zip(tiny_run, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "b"
    code = run_cli(monkeypatch, "export", str(tiny_run.run_dir), "--out", str(out), "--zip")
    assert code == 0, capsys.readouterr().err
    assert (out / "manifest.json").is_file() and out.with_suffix(".zip").is_file()
    assert "manifest digest" in capsys.readouterr().out
    assert run_cli(monkeypatch, "export", str(tiny_run.run_dir), "--out", str(tmp_path / "c"),
                   "--stack", "no_such_stack") == 2
    assert "no_such_stack" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_verify_and_inspect(cli_bundle, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(monkeypatch, "verify", str(cli_bundle)) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK") and "digest" in out
    assert run_cli(monkeypatch, "inspect", str(cli_bundle)) == 0
    assert "# Model card" in capsys.readouterr().out
    bad = tmp_path / "bad"
    shutil.copytree(cli_bundle, bad)
    (bad / "evil.pkl").write_bytes(b"\x80\x04K\x01.")
    assert run_cli(monkeypatch, "verify", str(bad)) == 2
    assert "evil.pkl" in capsys.readouterr().err


def test_inspect_names_a_malformed_metrics_block(cli_bundle, tmp_path, monkeypatch,
                                                capsys) -> None:  # type: ignore[no-untyped-def]
    from ensembler.bundle.integrity import seal

    bad = tmp_path / "bad"
    shutil.copytree(cli_bundle, bad)
    man = json.loads((bad / "manifest.json").read_text())
    man["metrics"] = {"status": "evaluated", "n_test": 30,
                      "stack": {"test_auc": {"point": "high", "lo": 0.6, "hi": 0.8}}}
    seal(bad, man)  # a sealed bundle: only the block is wrong
    assert run_cli(monkeypatch, "inspect", str(bad)) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"{bad}/manifest.json: metrics.stack.test_auc.point: expected a "
                        "number, got str") and len(err.splitlines()) == 1


def test_predict_command(cli_bundle, tiny_run, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    csv = _test_manifest(tiny_run, tiny_run.record_dir)
    out = tmp_path / "preds.csv"
    assert run_cli(monkeypatch, "predict", str(cli_bundle), str(csv), "--out", str(out)) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["record", "prob_condition", "decision_condition",
                                "duration_s", "length", "imputed", "quality_index",
                                "poor_quality", "quality_note", "lead_reversal", "flagged",
                                "set_condition", "abstain"]
    assert len(df) == len(tiny_run.test_rows)
    # a bad record: clear error naming it, non-zero exit, nothing written
    first = tiny_run.record_dir / str(tiny_run.cohort.record_id[tiny_run.test_rows[0]])
    shutil.copyfile(first.with_suffix(".hea"), tmp_path / "broken.hea")  # .dat missing
    (tmp_path / "headonly.hea").write_text("headonly 12 100 250\n")  # no signal lines
    out2 = tmp_path / "preds2.csv"
    code = run_cli(monkeypatch, "predict", str(cli_bundle), str(tmp_path / "broken"),
                   "--out", str(out2))
    err = capsys.readouterr().err
    assert code == 2 and "broken" in err and "missing" in err and not out2.exists()
    code = run_cli(monkeypatch, "predict", str(cli_bundle), str(tmp_path / "broken"),
                   str(tmp_path / "headonly"), str(first), "--out", str(out2), "--skip-bad",
                   "--impute-missing-tabular")
    assert code == 1
    err = capsys.readouterr().err
    assert "2 record(s) skipped" in err and "broken" in err and "headonly" in err
    assert list(pd.read_csv(out2)["record"]) == [str(first)]


def test_evaluate_command(cli_bundle, tiny_run, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from sklearn.metrics import roc_auc_score

    csv = _test_manifest(tiny_run, tiny_run.record_dir)
    base = tmp_path / "val"
    code = run_cli(monkeypatch, "evaluate", str(cli_bundle), str(csv), "--out", str(base),
                   "--n-bootstrap", "200")
    assert code == 0, capsys.readouterr().err
    report = json.loads(base.with_suffix(".json").read_text())
    y = tiny_run.cohort.labels[tiny_run.test_rows][:, 0]
    expected = roc_auc_score(y, tiny_run.stacked_test[:, 0])
    assert report["auc"]["macro"]["point"] == pytest.approx(expected, abs=1e-6)
    assert report["auc"]["macro"]["lo"] <= expected <= report["auc"]["macro"]["hi"]
    assert report["data"]["n_patients"] == len(set(tiny_run.cohort.patient_id[tiny_run.test_rows]))
    assert set(report["subgroups"]) == {"sex", "age_band", "paced"}
    assert "sensitivity" in report["operating_point"]["per_class"][0]
    assert "External validation" in base.with_suffix(".md").read_text()


def test_predict_threads_option_sets_torch_threads(cli_bundle, tiny_run, tmp_path,  # type: ignore[no-untyped-def]
                                                  monkeypatch, capsys) -> None:
    import torch

    csv = _test_manifest(tiny_run, tiny_run.record_dir)
    before = torch.get_num_threads()
    try:
        for n in (1, 2):
            assert run_cli(monkeypatch, "predict", str(cli_bundle), str(csv), "--out",
                           str(tmp_path / f"p{n}.csv"), "--threads", str(n)) == 0
            assert torch.get_num_threads() == n
        p1, p2 = pd.read_csv(tmp_path / "p1.csv"), pd.read_csv(tmp_path / "p2.csv")
        assert list(p1["record"]) == list(p2["record"])
        assert (p1["prob_condition"] - p2["prob_condition"]).abs().max() < 1e-5
    finally:
        torch.set_num_threads(before)
    assert run_cli(monkeypatch, "predict", str(cli_bundle), str(csv), "--threads", "0") == 2
    capsys.readouterr()
