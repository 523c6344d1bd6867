from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ensembler.cli.main import cli, main
from ensembler.splits import Split


def _config(tmp_path: Path, **split: object) -> Path:
    cfg = {"name": "t", "seed": 1, "run_dir": str(tmp_path / "run"),
           "data": {"synthetic": {"n_patients": 12, "ecgs_per_patient": [1, 2],
                                  "n_test_patients": 3}},
           "split": {"n_folds": 3, "test": "predefined", **split}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_synth_cache_split_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["synth", "--out", str(tmp_path / "syn"), "--n-patients", "6",
                              "--seed", "2"])
    assert res.exit_code == 0, res.output
    assert "oracle AUC" in res.output
    oracle = json.loads((tmp_path / "syn/oracle.json").read_text())
    assert oracle["n_patients"] == 6 and (tmp_path / "syn/manifest.csv").is_file()
    cfg = _config(tmp_path)
    res = runner.invoke(cli, ["cache", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "condition:" in res.output and "skipped bad records: 0" in res.output
    res = runner.invoke(cli, ["split", str(cfg)])
    assert res.exit_code == 0, res.output
    sp = Split.from_json(tmp_path / "run/split.json")
    assert sp.n_folds == 3 and (sp.fold == -1).any() and "test:" in res.output


def _main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["ensembler", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return int(exc.value.code or 0)


def test_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, dev_folds="predefined")  # synthetic has one predefined dev fold
    assert _main(["split", str(cfg)], monkeypatch) == 2
    assert "needs >= 2 predefined dev folds" in capsys.readouterr().err
    assert not (tmp_path / "run/split.json").exists()
    (tmp_path / "syn").mkdir()
    assert _main(["synth", "--out", str(tmp_path / "syn")], monkeypatch) == 2
    assert "already exists" in capsys.readouterr().err
    assert _main(["cache", str(tmp_path / "missing.yaml")], monkeypatch) == 2
    assert "config file not found" in capsys.readouterr().err
