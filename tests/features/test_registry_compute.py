"""Feature-set registry (names, explicit import allowance) and the cached cohort computation."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ensembler.data.cohort import STANDARD_LEADS, Cohort
from ensembler.data.synth.ecg_model import ECGParams, render
from ensembler.errors import ConfigError
from ensembler.features import create_feature_set, list_feature_sets, register_feature_set
from ensembler.features.compute import compute_features


def test_builtin_sets_are_registered_and_unknown_names_list_them() -> None:
    assert {"ecg_clinical", "ecg_clinical_beats"} <= set(list_feature_sets())
    with pytest.raises(ConfigError, match=r"unknown feature set 'ecg_clinicl'; registered: \["):
        create_feature_set("ecg_clinicl")
    with pytest.raises(ConfigError, match="already registered"):
        register_feature_set("ecg_clinical", lambda: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match="bad parameters"):
        create_feature_set("ecg_clinical", nope=1)


def test_user_feature_set_needs_explicit_allowance(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "user_fsets_x.py").write_text(textwrap.dedent("""
        import numpy as np
        from ensembler.features import ColumnSpec

        class Amp:
            name, version = "amp", "1"
            def column_specs(self):
                return [ColumnSpec("{lead}:max_mv", "mV", "max", "never")]
            def columns(self, leads):
                return [f"{lead}:max_mv" for lead in leads]
            def compute(self, signal, fs, leads):
                return signal.max(axis=1).astype(np.float32)
            def spec(self):
                return {"name": "amp", "version": "1", "params": {}}
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="importing user code was not allowed"):
        create_feature_set("user_fsets_x:Amp")
    fset = create_feature_set("user_fsets_x:Amp", allow_import=True)
    assert fset.compute(np.ones((2, 5)), 100.0, ["I", "II"]).tolist() == [1.0, 1.0]
    with pytest.raises(ConfigError, match="has no callable 'Nope'"):
        create_feature_set("user_fsets_x:Nope", allow_import=True)


def _cohort(n: int, fingerprint: str) -> Cohort:
    rng = np.random.default_rng(0)
    signals = np.stack([render(ECGParams(heart_rate=60 + 5 * i), 100.0, 10.0, rng).T
                        for i in range(n)]).astype(np.float32)
    return Cohort(signals=signals, labels=np.zeros((n, 1), np.uint8), class_names=["c"],
                  patient_id=np.arange(n).astype(str), record_id=np.arange(n).astype(str),
                  fs=100.0, lead_names=list(STANDARD_LEADS), fingerprint=fingerprint)


def test_cohort_features_cached(tmp_path: Path) -> None:
    fset = create_feature_set("ecg_clinical")
    cohort = _cohort(5, "abc123")
    table = compute_features(fset, cohort, tmp_path)
    assert table.values.shape == (5, len(fset.columns(STANDARD_LEADS)))
    hr = table.values[:, table.columns.index("heart_rate_bpm")]
    np.testing.assert_allclose(hr, 60 + 5 * np.arange(5), atol=3)
    assert table.versions["neurokit2"] and table.cpu_ms_per_ecg > 0
    (folder,) = tmp_path.glob("features-*")
    info = json.loads((folder / "info.json").read_text())
    assert info["spec"] == {"name": "ecg_clinical", "version": "1",
                            "params": {"beat_step_ms": None}}
    # a second call reads the cache (same values, same recorded cost), no recomputation
    np.save(folder / "values.npy", table.values + 1.0)
    again = compute_features(fset, cohort, tmp_path)
    np.testing.assert_array_equal(np.nan_to_num(again.values),
                                  np.nan_to_num(table.values + 1.0))
    assert again.cpu_ms_per_ecg == table.cpu_ms_per_ecg
    # another feature-set spec or another cohort is another cache entry
    compute_features(create_feature_set("ecg_clinical_beats"), cohort, tmp_path)
    compute_features(fset, _cohort(5, "other"), tmp_path)
    assert len(list(tmp_path.glob("features-*"))) == 3


def test_no_fingerprint_no_cache(tmp_path: Path) -> None:
    table = compute_features(create_feature_set("ecg_clinical"), _cohort(2, ""), tmp_path)
    assert table.values.shape[0] == 2 and not list(tmp_path.iterdir())


@pytest.mark.slow  # worker processes import neurokit2 (seconds each on a shared CPU)
def test_parallel_equals_sequential() -> None:
    fset = create_feature_set("ecg_clinical")
    cohort = _cohort(3, "")
    seq = compute_features(fset, cohort, n_jobs=1)
    par = compute_features(fset, cohort, n_jobs=2, progress=True)
    np.testing.assert_array_equal(seq.values, par.values)
