"""Missing tabular inputs: refused by default, imputed with the fitted fold state on request."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clirun import run_cli

from ensembler.bundle import export_bundle, load_bundle
from ensembler.bundle.card import model_card
from ensembler.bundle.imputation import build_imputer, tabular_missingness
from ensembler.bundle.members import BundleMember
from ensembler.errors import BundleIntegrityError
from ensembler.training.inner import inner_split
from ensembler.training.state import FoldState
from ensembler.utils.seeds import derive_seed

REPO = Path(__file__).resolve().parents[2]



@pytest.fixture(scope="module")
def bundle_dir(tiny_run, tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("missing") / "bundle"
    export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1)
    return out


def _test_ids(tiny_run) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(r) for r in tiny_run.cohort.record_id[tiny_run.test_rows]]


def _readme_predict_folder_command() -> list[str]:
    """The README's own 'predict a folder' example, as argv after ``ensembler``."""
    readme = (REPO / "README.md").read_text()
    found = re.search(r"`\.venv/bin/ensembler (predict runs/quickstart/bundle path/to/records/"
                      r"[^`]*)`", readme)
    assert found, "the README's predict-a-folder example is gone"
    return found.group(1).split()


def test_readme_predict_folder_example_refuses_then_imputes_and_marks(
        bundle_dir, tiny_run, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "records"
    folder.mkdir()
    for rid in _test_ids(tiny_run)[:4]:
        for ext in (".hea", ".dat"):
            shutil.copyfile((tiny_run.record_dir / rid).with_suffix(ext),
                            folder / f"{Path(rid).name}{ext}")
    argv = [{"runs/quickstart/bundle": str(bundle_dir), "path/to/records/": str(folder),
             "preds.csv": str(tmp_path / "preds.csv")}.get(a, a)
            for a in _readme_predict_folder_command()]
    assert argv[0] == "predict" and argv[-1] == "--impute-missing-tabular"
    code = run_cli(monkeypatch, *argv[:-1])  # without the option: refused
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "preds.csv").exists()
    assert "age, sex, pacemaker" in err and "4 record(s) lack values" in err
    assert "s0" in err and "--impute-missing-tabular" in err and "Traceback" not in err
    code = run_cli(monkeypatch, *argv)  # the README's command as written
    assert code == 0, capsys.readouterr().err
    df = pd.read_csv(tmp_path / "preds.csv", keep_default_na=False)
    assert len(df) == 4 and (df["imputed"] == "age;sex;pacemaker").all()
    assert (df["flagged"] == 1).all()


def test_csv_without_a_column_names_it(bundle_dir, tiny_run, tmp_path, monkeypatch,
                                       capsys) -> None:  # type: ignore[no-untyped-def]
    man = pd.read_csv(tiny_run.record_dir / "manifest.csv", dtype=str)
    man = man[man["record"].isin(_test_ids(tiny_run))]
    csv = tiny_run.record_dir / "no_age.csv"
    part = man[["record", "sex", "pacemaker", "age"]].copy()
    part.loc[part.index[1], "sex"] = ""  # one blank value as well
    part.drop(columns="age").to_csv(csv, index=False)
    out = tmp_path / "p.csv"
    assert run_cli(monkeypatch, "predict", str(bundle_dir), str(csv), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert f"{len(part)} record(s) lack values" in err and "(age, sex)" in err
    assert not out.exists()
    # complete CSV: nothing imputed, nothing flagged for tabular reasons
    full = tiny_run.record_dir / "full.csv"
    man[["record", "age", "sex", "pacemaker"]].to_csv(full, index=False)
    assert run_cli(monkeypatch, "predict", str(bundle_dir), str(full), "--out", str(out)) == 0
    assert (pd.read_csv(out, keep_default_na=False)["imputed"] == "").all()


def _fold_states(tiny_run, member: str) -> list[FoldState]:  # type: ignore[no-untyped-def]
    """Re-fit each fold's state from the cohort exactly as the trainer does."""
    c, fold = tiny_run.cohort, tiny_run.fold
    out = []
    for k in range(int(fold.max()) + 1):
        meta = json.loads((tiny_run.run_dir / "base" / member / f"fold_{k}" / "meta.json")
                          .read_text())
        train_part = np.flatnonzero((fold >= 0) & (fold != k))
        spec = json.loads((tiny_run.run_dir / "predictions" / f"{member}.json").read_text()
                          )["config"]
        frac = spec["training"]["inner_val_fraction"]
        tr, _ = inner_split(train_part, c.labels, c.patient_id, frac,
                            derive_seed(meta["seed"], "inner"))
        names = spec["tabular_names"]
        tab = np.asarray(c.tabular[:, [c.tabular_names.index(n) for n in names]], np.float32)
        uniq = np.unique(tr)
        out.append(FoldState.fit(c.signals[uniq], tab[uniq], names, seed=meta["seed"]))
    return out


def test_imputation_applies_exactly_the_fitted_fold_state(bundle_dir, tiny_run) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(bundle_dir)
    fused = next(m for m in bundle.members if m.tabular_names)
    refit = _fold_states(tiny_run, fused.name)
    for k, st in enumerate(refit):
        np.testing.assert_allclose(bundle.imputer.member_fill[fused.name][k], st.tabular_mean,
                                   rtol=1e-6)
    rows = tiny_run.test_rows[:6]
    x = np.asarray(tiny_run.cohort.signals[rows], np.float32)
    nan_tab = np.full((len(rows), len(bundle.tabular_names)), np.nan, np.float32)
    with pytest.raises(ValueError, match="lack values"):
        bundle.predict_proba(x, nan_tab)
    got = bundle.predict_proba(x, nan_tab, missing="impute")
    # by hand: fold k's model gets fold k's fitted means; the stack the development means
    level0 = {m.name: np.stack([
        m.predict(k, x, None if not m.tabular_names else np.tile(
            np.asarray(refit[k].tabular_mean, np.float32), (len(rows), 1)))
        for k in range(bundle.n_sets)]) for m in bundle.members if isinstance(m, BundleMember)}
    dev = tiny_run.fold >= 0
    c = tiny_run.cohort
    stab = None
    if bundle.stack.spec.passthrough:
        means = [float(np.nanmean(c.tabular[dev, c.tabular_names.index(n)]))
                 for n in bundle.stack.tabular_names]
        stab = np.tile(np.asarray(means), (len(rows), 1))
    ref = np.mean([bundle.stack.predict_level0({m: v[k] for m, v in level0.items()}, stab)
                   for k in range(bundle.n_sets)], axis=0)
    np.testing.assert_allclose(got, ref, atol=1e-6)
    # the old behaviour (NaN through the never-trained missing indicator) differs
    assert np.max(np.abs(bundle.predict_proba(x, nan_tab, missing="as-trained") - got)) > 1e-4


def test_missingness_recorded_and_card_generated_from_it(bundle_dir, tiny_run) -> None:  # type: ignore[no-untyped-def]
    man = json.loads((bundle_dir / "manifest.json").read_text())
    miss = man["input"]["tabular"]["missing"]
    assert set(miss) == {"age", "sex", "pacemaker"}
    assert all(v["development"] == 0.0 and len(v["fold_training"]) == 2 for v in miss.values())
    card = (bundle_dir / "MODEL_CARD.md").read_text()
    assert "the models were trained with missing values" not in card
    assert "Missing in the development data: age none, sex none, pacemaker none" in card
    assert "never saw a missing value" in card
    # a cohort with missing ages: measured fractions, and the card says so
    tab = np.array([[50.0, 1], [np.nan, 0], [70.0, np.nan], [np.nan, 1]], np.float32)
    m2 = tabular_missingness(tab, ["age", "sex"], np.array([0, 0, 1, 1]))
    assert m2["age"] == {"development": 0.5, "fold_training": [0.5, 0.5]}
    assert m2["sex"]["fold_training"] == [0.5, 0.0]
    man["input"]["tabular"]["names"] = ["age", "sex"]
    man["input"]["tabular"]["missing"] = m2
    card2 = model_card(man)
    assert "age 50.0%, sex 25.0%" in card2 and "learned a missing indicator" in card2


@pytest.mark.slow
def test_evaluate_applies_the_same_rule(bundle_dir, tiny_run, tmp_path, monkeypatch,
                                        capsys) -> None:  # type: ignore[no-untyped-def]
    man = pd.read_csv(tiny_run.record_dir / "manifest.csv", dtype=str)
    man = man[man["record"].isin(_test_ids(tiny_run))].drop(columns=["age"])
    csv = tiny_run.record_dir / "labels_no_age.csv"
    man.to_csv(csv, index=False)
    base = tmp_path / "val"
    assert run_cli(monkeypatch, "evaluate", str(bundle_dir), str(csv), "--out", str(base),
                   "--n-bootstrap", "50") == 2
    err = capsys.readouterr().err
    assert "(age)" in err and "lack values" in err and not base.with_suffix(".json").exists()
    assert run_cli(monkeypatch, "evaluate", str(bundle_dir), str(csv), "--out", str(base),
                   "--n-bootstrap", "50", "--impute-missing-tabular") == 0
    report = json.loads(base.with_suffix(".json").read_text())
    assert report["data"]["missing_tabular_policy"] == "impute"
    assert report["flags"]["counts"]["tabular_imputed"] == len(man)
    assert re.search(r"tabular imputed \d+", base.with_suffix(".md").read_text())


def test_imputer_refuses_state_it_cannot_trust(bundle_dir) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(bundle_dir)
    man = json.loads(json.dumps(bundle.manifest))
    fused = next(m for m in bundle.members if m.tabular_names)
    assert isinstance(fused, BundleMember)
    st = fused.models[1].state
    good = list(st.tabular_names)
    st.tabular_names = good[::-1]  # a state fitted on other columns
    with pytest.raises(BundleIntegrityError, match=f"{fused.name}/fold_1/state.json"):
        build_imputer(man, bundle.members, "b")
    st.tabular_names = good
    del man["input"]["tabular"]["missing"]  # exported before missingness was recorded
    with pytest.raises(BundleIntegrityError, match="re-export"):
        build_imputer(man, bundle.members, "b")


def test_stack_passthrough_imputer_rule() -> None:
    """Passthrough columns: the development mean, unless development data had missing
    values of the column (then the meta-learner's own learned NaN handling)."""
    from ensembler.bundle.imputation import development_means

    dev = np.array([[50.0, 1.0], [70.0, np.nan], [60.0, 0.0]])
    means = development_means(dev, ["age", "sex"])
    assert means == {"age": 60.0, "sex": 0.5}
    man = {"input": {"tabular": {
        "missing": tabular_missingness(dev, ["age", "sex"], np.array([0, 1, 1])),
        "stack_imputer": means}}}
    imp = build_imputer(man, [], "b")
    t = np.array([[np.nan, np.nan], [40.0, 1.0]])
    out = imp.fill_stack(t, ["age", "sex"])
    assert out is not None
    np.testing.assert_array_equal(out, [[60.0, np.nan], [40.0, 1.0]])
