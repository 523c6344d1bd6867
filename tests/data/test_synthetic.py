from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ensembler.config import SyntheticConfig
from ensembler.data.synth.condition import draw_latents
from ensembler.data.synth.ecg_model import ECGParams, render
from ensembler.data.synth.writer import write_synthetic


def test_default_effects_give_a_learnable_not_trivial_task() -> None:
    lat = draw_latents(SyntheticConfig(), 3000, np.random.default_rng(0))
    y = lat.labels[:, 0]
    assert 0.25 < y.mean() < 0.35
    oracle = roc_auc_score(y, lat.risk[:, 0])
    assert 0.80 <= oracle <= 0.90
    singles = [roc_auc_score(y, lat.z[:, k]) for k in (0, 1, 2, 4)]
    singles.append(roc_auc_score(y, lat.irregular))
    singles.append(roc_auc_score(y, lat.age))
    assert all(0.55 < s < 0.70 for s in singles), singles  # each weak on its own
    assert 0.08 < lat.irregular.mean() < 0.16


def test_multilabel_mode_has_distinct_conditions() -> None:
    cfg = SyntheticConfig(task="multilabel", n_conditions=4)
    lat = draw_latents(cfg, 500, np.random.default_rng(1))
    assert lat.labels.shape[1] == 4 and lat.class_names[0] == "cond_a"
    corr = np.corrcoef(lat.risk.T)
    assert np.all(corr[np.triu_indices(4, 1)] < 0.95)


def _r_amplitude(sig: np.ndarray) -> float:
    return float(np.percentile(sig[:, 1], 99.5) - np.median(sig[:, 1]))


def test_planted_effects_are_visible_in_the_signal() -> None:
    def quiet(**kw: object) -> np.ndarray:
        p = ECGParams(wander_mv=0.0, muscle_mv=0.0, **kw)  # type: ignore[arg-type]
        return render(p, 500.0, 10.0, np.random.default_rng(0))

    assert _r_amplitude(quiet(qrs_scale=0.7)) < 0.8 * _r_amplitude(quiet(qrs_scale=1.0))
    deep, shallow = quiet(q_depth_v13=0.4), quiet(q_depth_v13=0.0)
    assert (deep - shallow)[:, 7].min() < -0.35  # V2 gets a 0.4 mV deeper Q wave
    np.testing.assert_allclose(deep[:, 0], shallow[:, 0])  # limb leads untouched
    left, normal = quiet(axis_deg=-20.0), quiet(axis_deg=60.0)
    assert np.percentile(left[:, 5], 99.5) < np.percentile(normal[:, 5], 99.5)  # aVF drops
    sig = quiet()
    np.testing.assert_allclose(sig[:, 2], sig[:, 1] - sig[:, 0], atol=1e-9)  # Einthoven


def test_writer_is_seeded_and_reports_oracle(tmp_path: Path) -> None:
    cfg = SyntheticConfig(n_patients=8, n_test_patients=3, ecgs_per_patient=(1, 2))
    a = write_synthetic(cfg, 5, tmp_path / "a")
    b = write_synthetic(cfg, 5, tmp_path / "b")
    assert a["key"] == b["key"] and a["oracle_auc_dev"] == b["oracle_auc_dev"]
    ma, mb = pd.read_csv(tmp_path / "a/manifest.csv"), pd.read_csv(tmp_path / "b/manifest.csv")
    pd.testing.assert_frame_equal(ma, mb)
    assert (tmp_path / "a/records/s000000.dat").read_bytes() == \
        (tmp_path / "b/records/s000000.dat").read_bytes()
    test_pat = ma.loc[ma.fold == -1, "patient_id"].unique()
    assert len(test_pat) == 3 and not set(test_pat) & set(ma.loc[ma.fold == 0, "patient_id"])
    assert not list(tmp_path.glob(".*tmp*"))
