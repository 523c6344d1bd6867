"""docs/own_data.md's manifest and config, run for real on synthetic WFDB records."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from clirun import run_cli

from ensembler.config import ManifestConfig
from ensembler.data.manifest import read_manifest
from ensembler.errors import DataError
from ensembler.splits import Split

PAGE = Path(__file__).resolve().parents[2] / "docs" / "own_data.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", PAGE.read_text(), flags=re.S)


@pytest.mark.slow
def test_the_documented_own_data_example_runs(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(monkeypatch, "synth", "--out", str(tmp_path / "syn"), "--n-patients", "40",
                "--seed", "5") == 0
    example = pd.read_csv(io.StringIO(_blocks("csv")[0]), dtype=str, keep_default_na=False)
    assert (example["fold"] == "").any()  # the documented example has blank (dev) folds
    syn = pd.read_csv(tmp_path / "syn" / "manifest.csv", dtype=str)
    patients = sorted(syn["patient_id"].unique())
    test_patients = set(patients[::4])
    manifest = pd.DataFrame({
        "record": syn["record"], "patient_id": syn["patient_id"], "AF": syn["condition"],
        "MI": (syn["age"].astype(float) > 60).astype(int).astype(str),
        "age": syn["age"], "sex": syn["sex"],
        "fold": ["test" if p in test_patients else "" for p in syn["patient_id"]],
    })[list(example.columns)]  # exactly the documented columns
    csv = tmp_path / "hospital" / "manifest.csv"
    csv.parent.mkdir()
    manifest.to_csv(csv, index=False)
    cfg = yaml.safe_load(_blocks("yaml")[0])
    cfg["data"]["manifest"].update(path=str(csv), record_dir=str(tmp_path / "syn"))
    cfg["data"]["preprocessing"]["duration_s"] = 10
    cfg.update(name="own", run_dir=str(tmp_path / "run"))
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(cfg))
    code = run_cli(monkeypatch, "split", str(tmp_path / "own.yaml"))
    assert code == 0, capsys.readouterr().err
    split = Split.from_json(tmp_path / "run" / "split.json")
    is_test = manifest.set_index("record").loc[split.record_id, "fold"].eq("test").to_numpy()
    assert np.array_equal(split.fold == -1, is_test)
    assert split.n_folds == cfg["split"]["n_folds"] and set(split.fold[~is_test]) == set(range(5))


def test_blank_fold_means_development_and_bad_folds_name_plain_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    csv = tmp_path / "m.csv"
    csv.write_text("record,patient_id,AF,fold\na,P1,0,\nb,P2,1,test\nc,P3,0, \nd,P4,1,2\n")
    table = read_manifest(ManifestConfig(path=str(csv), label_columns=["AF"], fold_column="fold"))
    assert table.predefined_fold is not None
    assert table.predefined_fold[1] == -1 and table.predefined_fold[3] == 2
    assert (table.predefined_fold[[0, 2]] < -1).all()  # development, no predefined fold
    csv.write_text("record,patient_id,AF,fold\na,P1,0,x\nb,P2,1,test\nc,P3,0,1.5\n")
    with pytest.raises(DataError) as info:
        read_manifest(ManifestConfig(path=str(csv), label_columns=["AF"], fold_column="fold"))
    assert "lines [2, 4]" in str(info.value) and "np." not in str(info.value)
