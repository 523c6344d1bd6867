"""The tuning objective: development rows only, honest inner splits, pruning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest

from ensembler.training.runner import model_tabular_names
from ensembler.tuning import objective as objective_mod
from ensembler.tuning.objective import Objective, make_tuning_split
from ensembler.tuning.spaces import space_for_entry, suggest_member
from ensembler.tuning.study import tune_entry


@pytest.mark.slow
def test_test_rows_are_never_touched(tmp_path: Path, cohort, split, monkeypatch, make_cfg) -> None:
    fits: list[tuple[np.ndarray, np.ndarray]] = []
    scored: list[int] = []
    real_fit, real_predict = objective_mod.fit_model, objective_mod.predict_windows

    def spy_fit(spec, signals, labels, tabular, fs, train_idx, val_idx, **kw):
        fits.append((np.asarray(train_idx), np.asarray(val_idx)))
        return real_fit(spec, signals, labels, tabular, fs, train_idx, val_idx, **kw)

    def spy_predict(model, x, *args, **kw):
        scored.append(len(x))
        return real_predict(model, x, *args, **kw)

    monkeypatch.setattr(objective_mod, "fit_model", spy_fit)
    monkeypatch.setattr(objective_mod, "predict_windows", spy_predict)
    cfg = make_cfg(trials=2, pruner="none")
    tune_entry(cfg, cohort, split, tmp_path, "cnn", log=None)
    tsplit = make_tuning_split(cfg, cohort.labels, cohort.patient_id, split.fold)
    (train_rows, score_rows), = tsplit.parts
    test_patients = set(cohort.patient_id[split.fold == -1])
    pid = cohort.patient_id
    assert len(fits) == 2 and scored == [len(score_rows)] * 2
    assert not set(pid[score_rows]) & test_patients and not set(pid[train_rows]) & test_patients
    assert not set(pid[score_rows]) & set(pid[train_rows])
    for tr, va in fits:
        assert np.all(split.fold[tr] >= 0) and np.all(split.fold[va] >= 0)
        # early stopping rows come from the tuning-train part, never the scoring rows
        assert set(tr) | set(va) <= set(train_rows)
        assert not set(pid[tr]) & set(pid[va])


def test_inner_folds_cover_development_rows_once(cohort, split, make_cfg) -> None:
    cfg = make_cfg(objective_split="inner_folds", inner_folds=3)
    tsplit = make_tuning_split(cfg, cohort.labels, cohort.patient_id, split.fold)
    assert len(tsplit.parts) == 3
    scored = np.concatenate([s for _, s in tsplit.parts])
    np.testing.assert_array_equal(np.sort(scored), np.flatnonzero(split.fold >= 0))
    for tr, sc in tsplit.parts:
        assert not set(cohort.patient_id[tr]) & set(cohort.patient_id[sc])
        assert len(tr) + len(sc) == int((split.fold >= 0).sum())
    holdout = make_tuning_split(make_cfg(), cohort.labels, cohort.patient_id, split.fold)
    assert holdout.fingerprint != tsplit.fingerprint


@pytest.mark.slow
def test_objective_reports_every_epoch_and_prunes(cohort, split, make_cfg) -> None:
    cfg = make_cfg()
    entry = cfg.models[0]
    _, space = space_for_entry(entry)
    tsplit = make_tuning_split(cfg, cohort.labels, cohort.patient_id, split.fold)
    objective = Objective(cfg, entry, cohort, tsplit, space, model_tabular_names(cfg, cohort))
    # a pruner that stops every trial at its first report
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    study.optimize(objective, n_trials=1)
    pruned = study.trials[0]
    assert pruned.state == optuna.trial.TrialState.PRUNED
    assert list(pruned.intermediate_values) == [1]
    assert pruned.user_attrs["compute_seconds"] > 0
    free = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    free.optimize(objective, n_trials=1)
    done = free.trials[0]
    assert done.state == optuna.trial.TrialState.COMPLETE
    assert list(done.intermediate_values) == [1, 2]  # one report per epoch
    assert done.value is not None and 0.0 <= done.value <= 1.0
    assert done.user_attrs["part_aucs"] == [done.value]
    # the trial trains exactly what OOF training builds from the same params
    tuned = suggest_member(optuna.trial.FixedTrial(done.params), entry, space)
    spec = objective.member(tuned)
    assert spec.tuned and spec.params == tuned["model"]
    assert spec.training.lr == pytest.approx(done.params["lr"])
    assert spec.training.augment.noise_std == pytest.approx(done.params["aug_noise_std"])
