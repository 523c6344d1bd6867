"""Record length and screening flags: nothing other than a clean trained-length record is
scored silently."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clirun import run_cli

from ensembler.bundle import export_bundle
from ensembler.bundle.quality import QUALITY_THRESHOLD, assess, beats, r_peaks
from ensembler.config import PreprocessingConfig
from ensembler.data.preprocess import preprocess_full
from ensembler.data.wfdb_io import read_record, write_record

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]



@pytest.fixture(scope="module")
def bundle_dir(tiny_run, tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("flags") / "bundle"
    export_bundle(tiny_run.run_dir, out, cohort=tiny_run.cohort, onnx=False, zip=False,
                  latency_repeats=1)
    return out


def _csv(folder: Path, rows: dict[str, tuple[float, float, float]]) -> Path:
    csv = folder / "inputs.csv"
    pd.DataFrame([{"record": r, "age": a, "sex": s, "pacemaker": p}
                  for r, (a, s, p) in rows.items()]).to_csv(csv, index=False)
    return csv


def test_record_length_rules(bundle_dir, tiny_run, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """Bundle trained on 2.5 s: a 10 s record is cropped and flagged (or scored over
    windows with a warning); a 1.5 s record is refused (or padded and flagged)."""
    rid = str(tiny_run.cohort.record_id[tiny_run.test_rows[0]])
    sig, leads, fs = read_record(tiny_run.record_dir / rid)
    assert sig.shape[0] == 250
    write_record(tmp_path / "same", sig, leads, fs)
    write_record(tmp_path / "long", np.tile(sig, (4, 1)), leads, fs)  # 10 s
    write_record(tmp_path / "short", sig[:150], leads, fs)  # 1.5 s
    tab = (60.0, 1.0, 0.0)
    csv = _csv(tmp_path, {"same": tab, "long": tab})
    out = tmp_path / "p.csv"
    assert run_cli(monkeypatch, "predict", str(bundle_dir), str(csv), "--out", str(out)) == 0
    err = capsys.readouterr().err
    df = pd.read_csv(out).set_index("record")
    assert df.loc["same", "length"] == "as trained" and df.loc["long", "length"] == "cropped"
    assert df.loc["long", "duration_s"] == pytest.approx(10.0)
    assert df.loc["long", "flagged"] == 1 and "1 record(s) cropped" in err
    # cropping scores exactly the first trained duration
    assert df.loc["long", "prob_condition"] == pytest.approx(df.loc["same", "prob_condition"],
                                                             abs=1e-6)
    assert run_cli(monkeypatch, "predict", str(bundle_dir), str(csv), "--out", str(out),
                   "--sliding-windows") == 0
    err = capsys.readouterr().err
    df = pd.read_csv(out).set_index("record")
    assert df.loc["long", "length"] == "sliding windows (7)"
    assert df.loc["same", "length"] == "as trained"
    assert "warning: --sliding-windows" in err and "calibration" in err
    # the short record: refused, nothing written; padded and flagged on request
    csv2 = _csv(tmp_path, {"short": tab})
    out2 = tmp_path / "short.csv"
    assert run_cli(monkeypatch, "predict", str(bundle_dir), str(csv2), "--out", str(out2)) == 2
    err = capsys.readouterr().err
    assert "short" in err and "1.50 s long" in err and "--pad-short" in err
    assert not out2.exists()
    assert run_cli(monkeypatch, "predict", str(bundle_dir), str(csv2), "--out", str(out2),
                   "--pad-short") == 0
    row = pd.read_csv(out2).iloc[0]
    assert row["length"] == "padded" and row["flagged"] == 1
    assert row["quality_note"] == "too short to screen (< 2 s)"  # screened unpadded, no crash


def _clean(path: Path) -> np.ndarray:
    sig, leads, fs = read_record(path)
    return preprocess_full(sig, leads, fs, PreprocessingConfig(fs=100, duration_s=10))


def _swap_la_ra(x: np.ndarray) -> np.ndarray:
    """LA/RA cable swap: I -> -I, II <-> III, aVR <-> aVL, aVF and V1-V6 unchanged."""
    y = x.copy()
    y[0] = -x[0]
    y[1], y[2] = x[2], x[1]
    y[3], y[4] = x[4], x[3]
    return y


def test_quality_and_reversal_screen(ten_second_records) -> None:  # type: ignore[no-untyped-def]
    xs = [_clean(p.with_suffix("")) for p in sorted(ten_second_records.glob("*.hea"))]
    clean = [assess(x, 100, LEADS) for x in xs]
    assert sum(q.poor for q in clean) <= 1 and not any(q.lead_reversal for q in clean)
    rng = np.random.default_rng(0)
    noisy = [assess(x + rng.normal(0, 0.2, x.shape).astype(np.float32), 100, LEADS) for x in xs]
    assert all(q.poor for q in noisy)
    faint = [assess(0.01 * x + rng.normal(0, 0.01, x.shape).astype(np.float32), 100, LEADS)
             for x in xs]  # near-flat leads: amplitude 1% of normal, not refused as flat
    assert all(q.poor for q in faint)
    swapped = [assess(_swap_la_ra(x), 100, LEADS) for x in xs]
    upright = [i for i, x in enumerate(xs) if clean[i].index > QUALITY_THRESHOLD]
    assert sum(swapped[i].lead_reversal for i in upright) >= len(upright) // 2
    # speed: the whole screen per record (R peaks, 12-lead template correlation, polarity)
    t0 = time.perf_counter()
    for x in xs:
        assess(x, 100, LEADS)
    assert (time.perf_counter() - t0) / len(xs) < 0.25


def test_template_index_matches_neurokit2(ten_second_records) -> None:  # type: ignore[no-untyped-def]
    import neurokit2 as nk
    from scipy import signal as sps

    from ensembler.bundle.quality import _bandpass, template_correlation

    x = _clean(sorted(ten_second_records.glob("*.hea"))[0].with_suffix("")).astype(np.float64)
    f = sps.sosfiltfilt(_bandpass(100), x, axis=1)
    peaks = r_peaks(x[1], 100)
    ours = template_correlation(beats(f, peaks, 100))
    for lead in (1, 6, 10):
        ref = nk.ecg_quality(nk.ecg_clean(x[lead], sampling_rate=100), rpeaks=peaks,
                             sampling_rate=100, method="templatematch")
        assert ours[lead] == pytest.approx(float(np.nanmean(ref)), abs=0.05)


@pytest.mark.slow
def test_flags_in_predict_and_evaluate(bundle_dir, tiny_run, ten_second_records, tmp_path,
                                       monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    paths = sorted(ten_second_records.glob("*.hea"))
    # a record on which the criterion applies (upright QRS in I, positive aVL)
    ok = [p for p in paths if not (q := assess(x := _clean(p.with_suffix("")), 100, LEADS)).poor
          and not q.lead_reversal and assess(_swap_la_ra(x), 100, LEADS).lead_reversal]
    x, leads, fs = read_record(ok[0].with_suffix(""))
    write_record(tmp_path / "clean", x, leads, fs)
    names = [n.upper() for n in leads]
    swapped = x.copy()
    swapped[:, names.index("I")] = -x[:, names.index("I")]
    for a, b in (("II", "III"), ("AVR", "AVL")):
        swapped[:, names.index(a)], swapped[:, names.index(b)] = \
            x[:, names.index(b)], x[:, names.index(a)]
    write_record(tmp_path / "swapped", swapped, leads, fs)
    noisy = x + np.random.default_rng(1).normal(0, 0.3, x.shape)
    write_record(tmp_path / "noisy", noisy, leads, fs)
    tab = (60.0, 0.0, 0.0)
    csv = _csv(tmp_path, {"clean": tab, "swapped": tab, "noisy": tab})
    out = tmp_path / "p.json"
    assert run_cli(monkeypatch, "predict", str(bundle_dir), str(csv), "--out", str(out),
                   "--sliding-windows") == 0
    rows = {r["record"]: r for r in json.loads(out.read_text())}
    assert rows["clean"]["poor_quality"] == 0 and rows["clean"]["lead_reversal"] == 0
    assert rows["swapped"]["lead_reversal"] == 1
    assert rows["noisy"]["poor_quality"] == 1 and "template correlation" in \
        rows["noisy"]["quality_note"]
    err = capsys.readouterr().err
    assert "likely LA/RA" in err and "poor signal quality" in err
    # evaluate: counts and the AUC without flagged records
    man = pd.read_csv(tiny_run.record_dir / "manifest.csv", dtype=str)
    ids = set(tiny_run.cohort.record_id[tiny_run.test_rows].astype(str))
    lab = tiny_run.record_dir / "labelled_flags.csv"
    man[man["record"].isin(ids)].to_csv(lab, index=False)
    base = tmp_path / "val"
    assert run_cli(monkeypatch, "evaluate", str(bundle_dir), str(lab), "--out", str(base),
                   "--n-bootstrap", "50") == 0
    fl = json.loads(base.with_suffix(".json").read_text())["flags"]
    assert fl["n_records"] == len(ids)
    assert set(fl["counts"]) == {"length_not_as_trained", "tabular_imputed", "poor_quality",
                                 "lead_reversal", "any"}
    preds = tmp_path / "all.csv"
    assert run_cli(monkeypatch, "predict", str(bundle_dir), str(lab), "--out", str(preds)) == 0
    df = pd.read_csv(preds).merge(man[["record", "condition"]], on="record")
    assert fl["counts"]["any"] == int(df["flagged"].sum())
    assert fl["counts"]["poor_quality"] == int(df["poor_quality"].sum())
    keep = df[df["flagged"] == 0]
    if fl["auc_unflagged"] is not None:
        from sklearn.metrics import roc_auc_score

        assert fl["auc_unflagged"]["point"] == pytest.approx(
            roc_auc_score(keep["condition"].astype(int), keep["prob_condition"]), abs=1e-9)
    assert "Flagged records" in base.with_suffix(".md").read_text()
