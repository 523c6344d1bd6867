"""Joint Optuna study: beats the best single member, nested CV, Pareto front, storage."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from stacking import fit_stack, macro_auc, named_stacks, pareto_pick, tune_stack

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_tuned_stack_beats_best_single_on_oof_and_held_out(level1) -> None:
    d, y_test = level1(n_dev=600, n_test=600, tabular=True)
    res = tune_stack(d, n_trials=25, seed=0, nested_cv=True, nested_trials=8,
                     passthrough=["age", "sex"])
    single = fit_stack(d, named_stacks(d)["best_single"])
    tuned = fit_stack(d, res.best_spec, seed=0)
    auc_single = macro_auc(y_test, single.predict_test(d.test_by_fold))
    auc_tuned = macro_auc(y_test, tuned.predict_test(d.test_by_fold, d.tabular_test))
    # planted: each of a, b sees half of the signal -> the stack needs both
    assert {"a", "b"} <= set(res.best_spec.members)
    assert tuned.cv_auc_ > single.cv_auc_ + 0.06
    assert auc_tuned > auc_single + 0.06
    # the nested estimate exists, per outer fold, and sits near the inner best
    assert res.nested is not None and len(res.nested.fold_aucs) == d.n_folds
    assert abs(res.nested.mean - res.best_value) < 0.05 and res.nested.sd > 0
    assert res.n_complete + res.n_pruned == 25
    assert len(res.trials) == 25 and "params_learner" in res.trials.columns
    summary = res.to_dict()
    assert summary["best_spec"]["members"] == list(res.best_spec.members)


def test_fixed_learner_multilabel_and_pruning(level1) -> None:
    d, y_test = level1(n_dev=400, n_test=200, n_classes=2)
    res = tune_stack(d, learner="logistic", n_trials=20, seed=1, nested_cv=False)
    assert res.best_spec.learner == "logistic" and res.nested is None
    assert set(res.trials["params_learner"]) == {"logistic"}
    fs = fit_stack(d, res.best_spec)
    assert macro_auc(y_test, fs.predict_test(d.test_by_fold)) > 0.85


def test_same_seed_same_study(level1) -> None:
    d, _ = level1(n_dev=300, n_test=10)
    a = tune_stack(d, n_trials=12, seed=7, nested_cv=False, learners=["mean", "logistic"])
    b = tune_stack(d, n_trials=12, seed=7, nested_cv=False, learners=["mean", "logistic"])
    assert a.best_spec == b.best_spec and a.best_value == b.best_value
    np.testing.assert_array_equal(a.trials["value"].to_numpy(), b.trials["value"].to_numpy())


def test_multi_objective_pareto_front(level1) -> None:
    d, _ = level1(n_dev=400, n_test=10)
    res = tune_stack(d, n_trials=30, seed=0, multi_objective=True, nested_cv=False,
                     learners=["mean", "greedy", "logistic"])
    front = res.pareto
    assert front and res.best_spec == front[0].spec
    points = [(p.auc, p.n_members, p.cost_ms) for p in front]
    for p in front:
        assert p.cost_ms == pytest.approx(sum(d.member_cost_ms[m] for m in p.spec.members))
    for a, n, c in points:  # no point dominates another
        assert c is not None
        assert not any(qa >= a and qn <= n and qc is not None and qc <= c
                       and (qa, qn, qc) != (a, n, c) for qa, qn, qc in points)
    cheap = pareto_pick(front, tolerance=1.0)
    assert cheap.n_members == min(p.n_members for p in front)


@pytest.mark.slow
def test_storage_resumes_study(level1, tmp_path) -> None:
    d, _ = level1(n_dev=200, n_test=10)
    url = f"sqlite:///{tmp_path / 'stack.db'}"
    tune_stack(d, n_trials=5, seed=0, storage=url, study_name="s", nested_cv=False,
               learners=["mean"])
    res = tune_stack(d, n_trials=5, seed=0, storage=url, study_name="s", nested_cv=False,
                     learners=["mean"])
    assert len(res.trials) == 10


def test_bad_arguments(level1) -> None:
    d, _ = level1(n_dev=200, n_test=10)
    with pytest.raises(ValueError, match="transforms"):
        tune_stack(d, n_trials=2, transforms=["softmax"], nested_cv=False)
    with pytest.raises(ValueError, match="passthrough"):
        tune_stack(d, n_trials=2, passthrough=["age"], nested_cv=False)



def test_trial_values_do_not_depend_on_fold_order_or_n_jobs(level1) -> None:
    """Each fold is fitted from scratch (no warm start from a fold that saw its rows) and
    pruned on the same per-fold reports whatever the number of parallel folds."""
    from optuna.trial import FixedTrial

    from stacking.model import fit_predict
    from stacking.search import suggest_spec

    d, _ = level1(n_dev=300, n_test=50, tabular=True)
    runs = [tune_stack(d, learner="logistic", n_trials=15, seed=2, nested_cv=False,
                       passthrough=["age", "sex"], n_jobs=n) for n in (1, 2)]
    a, b = (r.trials for r in runs)
    assert list(a["state"]) == list(b["state"])
    assert np.array_equal(a["value"].to_numpy(), b["value"].to_numpy(), equal_nan=True)
    done = a[a["state"] == "COMPLETE"]
    assert len(done) >= 5
    for row in done.to_dict(orient="records"):
        params = {str(k)[len("params_"):]: v for k, v in row.items()
                  if str(k).startswith("params_") and v == v}
        spec = suggest_spec(FixedTrial(params), d.members, ["logistic"],
                            ("prob", "logit", "rank"), ["age", "sex"])
        assert spec is not None
        for k in reversed(range(d.n_folds)):  # any fold order gives the study's value
            te = d.folds == k
            scratch = macro_auc(d.y[te], fit_predict(d, spec, ~te, te, 2))
            assert row["user_attrs_fold_aucs"][k] == scratch
