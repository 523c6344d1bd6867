"""The OOF runner: contract, counting, honesty of the splits, bagging, refit-full."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from toydata import make_cohort, make_split, tiny_config

from ensembler.errors import PredictionsError
from ensembler.training import jobs as jobs_mod
from ensembler.training.inner import inner_split, patient_bootstrap
from ensembler.training.predictions import MemberPredictions, assemble_oof
from ensembler.training.runner import member_specs, register_external, train_members


@pytest.mark.slow
def test_oof_contract_and_files(tmp_path: Path, cohort, split) -> None:
    cfg = tiny_config(epochs=4, lr=1e-2)
    specs = member_specs(cfg, cohort)
    summary = train_members(cfg, cohort, split, tmp_path, specs, verbose=False)
    preds = summary.predictions["cnn"]
    n_dev = int((split.fold >= 0).sum())
    n_test = int((split.fold == -1).sum())
    assert preds.oof.shape == (n_dev, 1)
    assert preds.test_by_fold.shape == (3, n_test, 1)
    np.testing.assert_allclose(preds.test, preds.test_by_fold.mean(axis=0))
    assert np.all((preds.oof > 0) & (preds.oof < 1))
    for k in range(3):
        folder = tmp_path / "base" / "cnn" / f"fold_{k}"
        for name in ("weights.safetensors", "state.json", "curve.csv", "meta.json"):
            assert (folder / name).is_file(), name
        curve = (folder / "curve.csv").read_text().splitlines()[0]
        assert curve.split(",") == ["epoch", "train_loss", "val_loss", "val_auc", "lr", "seconds"]
        assert "spec" not in json.loads((folder / "meta.json").read_text())  # stored once
    loaded = MemberPredictions.load(tmp_path / "predictions" / "cnn.npz")
    np.testing.assert_array_equal(loaded.dev_record_id, cohort.record_id[split.fold >= 0])
    assert loaded.meta.n_params > 0 and len(loaded.meta.best_epoch) == 3
    assert loaded.meta.inference_ms_per_ecg > 0
    assert loaded.meta.kind == "network"
    assert loaded.meta.spec.describe() == specs[0].describe()
    # the toy signal is easy: OOF must carry real signal, not noise
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(cohort.labels[split.fold >= 0, 0], preds.oof[:, 0]) > 0.7


@pytest.mark.slow
def test_second_run_skips_finished_jobs(tmp_path: Path, cohort, split) -> None:
    cfg = tiny_config()
    specs = member_specs(cfg, cohort)
    first = train_members(cfg, cohort, split, tmp_path, specs, verbose=False)
    again = train_members(cfg, cohort, split, tmp_path, specs, verbose=False)
    assert first.jobs_run == 3 and again.jobs_run == 0 and again.jobs_skipped == 3
    np.testing.assert_array_equal(first.predictions["cnn"].oof, again.predictions["cnn"].oof)
    # a changed parameter recomputes
    cfg2 = tiny_config(lr=5e-3)
    third = train_members(cfg2, cohort, split, tmp_path, member_specs(cfg2, cohort), verbose=False)
    assert third.jobs_run == 3


@pytest.mark.slow
def test_no_patient_on_two_sides(tmp_path: Path, cohort, split, monkeypatch) -> None:
    """Every fold model's training and early-stopping rows avoid its OOF and test patients."""
    seen: list[tuple[np.ndarray, np.ndarray | None]] = []
    real_fit = jobs_mod.fit_model

    def spy(spec, signals, labels, tabular, fs, train_idx, val_idx, **kw):
        seen.append((np.asarray(train_idx), None if val_idx is None else np.asarray(val_idx)))
        return real_fit(spec, signals, labels, tabular, fs, train_idx, val_idx, **kw)

    monkeypatch.setattr(jobs_mod, "fit_model", spy)
    cfg = tiny_config()
    cfg.models[0].bootstrap = 1
    train_members(cfg, cohort, split, tmp_path, member_specs(cfg, cohort), verbose=False)
    assert len(seen) == 3 * 2  # two replicas (seed 0 + bootstrap 0) x three folds
    pid = cohort.patient_id
    order = [(m, k) for m in range(2) for k in range(3)]
    for (tr, va), (_, k) in zip(seen, order, strict=True):
        oof_p = set(pid[split.fold == k])
        test_p = set(pid[split.fold == -1])
        assert va is not None
        assert not set(pid[tr]) & oof_p and not set(pid[tr]) & test_p
        assert not set(pid[va]) & oof_p and not set(pid[va]) & test_p
        assert not set(pid[tr]) & set(pid[va])


@pytest.mark.slow
def test_replicas_are_named_members_with_own_oof(tmp_path: Path, cohort, split) -> None:
    cfg = tiny_config()
    cfg.models[0].seeds = 2
    cfg.models[0].bootstrap = 1
    specs = member_specs(cfg, cohort)
    assert [s.name for s in specs] == ["cnn-s0", "cnn-s1", "cnn-b0"]
    out = train_members(cfg, cohort, split, tmp_path, specs, verbose=False).predictions
    assert set(out) == {"cnn-s0", "cnn-s1", "cnn-b0"}
    assert not np.allclose(out["cnn-s0"].oof, out["cnn-s1"].oof)


def test_patient_bootstrap_resamples_whole_patients() -> None:
    groups = np.repeat(np.arange(30), 3)
    idx = np.arange(90)
    rows = patient_bootstrap(idx, groups, seed=1)
    assert len(rows) == 90
    for g in np.unique(groups[rows]):
        # a drawn patient comes with all its records, a multiple of 3 times
        assert (groups[rows] == g).sum() % 3 == 0
    assert len(np.unique(groups[rows])) < 30  # with replacement: some patients left out


def test_inner_split_is_patient_grouped() -> None:
    c = make_cohort(n_patients=40, per_patient=3)
    idx = np.arange(len(c))
    tr, va = inner_split(idx, c.labels, c.patient_id, 0.2, seed=3)
    assert not set(c.patient_id[tr]) & set(c.patient_id[va])
    assert len(tr) + len(va) == len(idx)
    assert 0.1 < len(va) / len(idx) < 0.3


def test_counting_refuses_missing_or_double_rows() -> None:
    preds = {0: np.full((2, 1), 0.5), 1: np.full((2, 1), 0.5)}
    assert assemble_oof("m", 4, {0: np.array([0, 1]), 1: np.array([2, 3])}, preds).shape == (4, 1)
    with pytest.raises(PredictionsError, match="exactly once"):
        assemble_oof("m", 4, {0: np.array([0, 1]), 1: np.array([1, 3])}, preds)
    with pytest.raises(PredictionsError, match="exactly once"):
        assemble_oof("m", 5, {0: np.array([0, 1]), 1: np.array([2, 3])}, preds)


@pytest.mark.slow
def test_refit_full_and_multilabel(tmp_path: Path) -> None:
    c = make_cohort(n_classes=3, seed=2)
    s = make_split(c)
    cfg = tiny_config(refit_full=True)
    out = train_members(cfg, c, s, tmp_path, member_specs(cfg, c), verbose=False).predictions
    p = out["cnn"]
    assert p.oof.shape[1] == 3 and p.test_refit is not None
    assert p.test_refit.shape == p.test.shape
    assert (tmp_path / "base" / "cnn" / "full" / "weights.safetensors").is_file()
    assert p.meta.refit_full is not None and p.meta.refit_full["n_val"] == 0


@pytest.mark.slow
def test_fused_member_gets_tabular_scaled_per_fold(tmp_path: Path, cohort, split) -> None:
    cfg = tiny_config()
    cfg.models[0].fusion = "intermediate"
    train_members(cfg, cohort, split, tmp_path, member_specs(cfg, cohort), verbose=False)
    import json

    states = [json.loads((tmp_path / "base/cnn" / f"fold_{k}/state.json").read_text())
              for k in range(3)]
    assert all(s["tabular_names"] == ["age", "sex"] for s in states)
    # scaling is fitted on each fold's own training part, so it differs between folds
    assert states[0]["tabular_mean"] != states[1]["tabular_mean"]


@pytest.mark.slow
def test_external_member_alignment(tmp_path: Path, cohort, split) -> None:
    cfg = tiny_config()
    out = train_members(cfg, cohort, split, tmp_path / "a", member_specs(cfg, cohort),
                        verbose=False).predictions["cnn"]
    # shuffle rows: registering realigns by record id
    perm = np.random.default_rng(0).permutation(len(out.oof))
    shuffled = MemberPredictions(
        name="x", oof=out.oof[perm], test_by_fold=out.test_by_fold,
        dev_record_id=out.dev_record_id[perm], test_record_id=out.test_record_id,
        fold=out.fold[perm], class_names=out.class_names)
    shuffled.save(tmp_path / "ext")
    reg = register_external("ext1", tmp_path / "ext" / "x.npz", cohort, split, tmp_path / "b")
    np.testing.assert_allclose(reg.oof, out.oof)
    bad = MemberPredictions(
        name="y", oof=out.oof, test_by_fold=out.test_by_fold, dev_record_id=out.dev_record_id,
        test_record_id=out.test_record_id, fold=(out.fold + 1) % 3, class_names=out.class_names)
    bad.save(tmp_path / "ext")
    with pytest.raises(PredictionsError, match="fold vector"):
        register_external("ext2", tmp_path / "ext" / "y.npz", cohort, split, tmp_path / "b")


def test_inner_split_quiet_about_a_small_pooled_rare_stratum() -> None:
    """Rare label combinations are pooled; a pool smaller than the number of splits made
    sklearn warn on every fold model. The split stays patient-grouped and complete."""
    import warnings

    rng = np.random.default_rng(0)
    n = 400
    labels = np.zeros((n, 3), dtype=np.int64)
    labels[: n // 2, 0] = 1
    labels[:3] = [1, 1, 1]  # 3 rows of a rare combination: the pooled stratum
    groups = np.repeat(np.arange(n // 2), 2)
    rng.shuffle(groups)
    idx = np.arange(n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr, va = inner_split(idx, labels, groups, 0.2, seed=1)
    assert len(np.intersect1d(groups[tr], groups[va])) == 0
    assert sorted(np.concatenate([tr, va]).tolist()) == idx.tolist()
