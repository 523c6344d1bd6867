"""What the studies found: best parameters for OOF training, and the fairness report.

``load_best_params`` is what ``ensembler train`` calls; ``fairness_table`` and
``write_fairness_report`` give, per architecture, how much search it actually got
(trials complete/pruned/failed, compute seconds, budget) so an under-tuned
architecture is visible next to its AUC.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FixedTrial, TrialState

from ensembler.config import FeatureMemberEntry, ModelEntry, RunConfig
from ensembler.evaluation.labels import SELECTED_ON
from ensembler.training.feature_member import model_label
from ensembler.tuning.schedule import ScheduleResult, read_schedule, schedule_basis
from ensembler.tuning.spaces import space_for_entry, suggest_member
from ensembler.tuning.spaces.features import feature_space
from ensembler.tuning.storage import default_store_missing, hpo_dir, open_storage, study_name
from ensembler.tuning.study import counted_trials, is_surplus, spent_seconds
from ensembler.utils.atomic import write_json, write_text
from ensembler.utils.jsonclass import to_json_dict

TRIAL_COLUMNS = ["arch", "number", "state", "value", "seconds", "cpu_seconds",
                 "datetime_complete", "retried_from", "surplus", "worker"]


def tunable_entries(cfg: RunConfig) -> list[ModelEntry | FeatureMemberEntry]:
    """Every entry a study can tune: the network entries, then the feature members."""
    return [*cfg.models, *cfg.feature_members]


def best_member_params(entry: ModelEntry | FeatureMemberEntry,
                       trial: optuna.trial.FrozenTrial, only: list[str] | None = None
                       ) -> dict[str, Any]:
    """A trial's parameters rebuilt through the entry's suggest function
    (``optuna.trial.FixedTrial``): ``expand_entry``'s format for a network entry,
    ``{"lightgbm": {...}}`` / ``{"logistic": {...}}`` for a feature member. ``only``: the
    parameters its study searched (its ``search_only`` attribute; the others configured)."""
    fixed = FixedTrial(trial.params, trial.number)
    if isinstance(entry, FeatureMemberEntry):
        return feature_space(entry)[1](fixed)
    return suggest_member(fixed, entry, space_for_entry(entry)[1], only or ())


def _model_label(entry: ModelEntry | FeatureMemberEntry) -> str:
    return model_label(entry) if isinstance(entry, FeatureMemberEntry) else entry.arch


def _studies(cfg: RunConfig, run_dir: Path, storage: str | None,
             study_prefix: str | None) -> dict[str, optuna.Study]:
    """Existing studies of the entries ``tuning.search`` covers, by entry name (none: {});
    a study an earlier config left for another entry is not this run's (not reported, its
    parameters not used)."""
    if not cfg.tuning.searches_any or default_store_missing(cfg, run_dir, storage):
        return {}
    store: RDBStorage = open_storage(cfg, run_dir, storage)
    existing = set(optuna.get_all_study_names(store))
    out = {}
    for entry in tunable_entries(cfg):
        name = study_name(cfg, entry.name, study_prefix)
        if name in existing and cfg.tuning.searches(entry.name):
            out[entry.name] = optuna.load_study(study_name=name, storage=store)
    return out


def study_params(cfg: RunConfig, run_dir: Path, storage: str | None = None,
                 study_prefix: str | None = None) -> dict[str, dict[str, Any]]:
    """``{entry name: tuned params}`` from each entry's study with a COMPLETE trial (the
    best trial rebuilt through :func:`best_member_params`); no schedule step applied. Only
    the entries ``tuning.search`` covers (:func:`_studies`): a study an earlier search left
    for another entry is not used."""
    entries = {e.name: e for e in tunable_entries(cfg)}
    out: dict[str, dict[str, Any]] = {}
    for name, study in _studies(cfg, run_dir, storage, study_prefix).items():
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not complete:
            continue
        best = max(complete, key=lambda t: float("-inf") if t.value is None else t.value)
        out[name] = best_member_params(entries[name], best,
                                       study.user_attrs.get("search_only"))
    return out


def current_schedules(cfg: RunConfig, run_dir: Path,
                      params: dict[str, dict[str, Any]]) -> dict[str, ScheduleResult]:
    """The recorded schedule step of each network entry, where it started from what the
    config and the entry's study (``params``) give now (else it is stale and left out)."""
    out = {}
    for entry in cfg.models:
        result = read_schedule(run_dir, entry.name)
        if result is not None and result.basis == schedule_basis(cfg, entry,
                                                                 params.get(entry.name)):
            out[entry.name] = result
    return out


def load_best_params(cfg: RunConfig, run_dir: Path, storage: str | None = None,
                     study_prefix: str | None = None) -> dict[str, dict[str, Any]]:
    """``{entry name: tuned params}``: each study's best trial (none when ``tuning.search``
    is false), plus the epochs the schedule step chose (``training.epochs``) where its
    record is current.

    The params are rebuilt through the entry's suggest function with
    ``optuna.trial.FixedTrial(best_params)`` (:func:`best_member_params`): for a network
    entry the format ``expand_entry`` consumes, ``{"model": {...}, "training": {...}[,
    "fusion": ...]}``; for a feature member its learner section (``tuned_entry``). An entry
    with a schedule step but no study gets ``{"training": {"epochs": E}}``. Returns {}
    when nothing was tuned (storage resolution as in ``ensembler tune``).
    """
    out = study_params(cfg, run_dir, storage, study_prefix)
    for name, result in current_schedules(cfg, run_dir, out).items():
        tuned = dict(out.get(name, {}))
        tuned["training"] = {**tuned.get("training", {}), "epochs": result.epochs}
        out[name] = tuned
    return out


def _retried_from(trial: optuna.trial.FrozenTrial) -> int | None:
    """Number of the original failed trial this one retries (None: not a retry)."""
    with warnings.catch_warnings():  # the helper is tagged "experimental" in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback.retried_trial_number(trial)


def trials_frame(cfg: RunConfig, run_dir: Path, storage: str | None = None,
                 study_prefix: str | None = None) -> pd.DataFrame:
    """Tidy table of every trial: one row per (arch, trial), columns ``TRIAL_COLUMNS``."""
    rows = []
    for name, study in _studies(cfg, run_dir, storage, study_prefix).items():
        for t in study.get_trials(deepcopy=False):
            rows.append({
                "arch": name, "number": t.number, "state": t.state.name, "value": t.value,
                "seconds": t.user_attrs.get("compute_seconds", np.nan),
                "cpu_seconds": t.user_attrs.get("cpu_seconds", np.nan),
                "datetime_complete": t.datetime_complete,
                "retried_from": _retried_from(t),
                "surplus": is_surplus(t), "worker": t.user_attrs.get("worker"),
            })
    return pd.DataFrame(rows, columns=TRIAL_COLUMNS)


def _untuned_row(entry: ModelEntry | FeatureMemberEntry) -> dict[str, Any]:
    return {"arch": entry.name, "model": _model_label(entry), "tuned": False, "budget_kind": None,
            "budget": None, "complete": 0, "pruned": 0, "failed": 0, "running": 0,
            "best_auc": None, "best_trial": None, "compute_seconds": 0.0, "cpu_seconds": 0.0,
            "budget_met": False}


def _study_row(name: str, study: optuna.Study) -> dict[str, Any]:
    trials = study.get_trials(deepcopy=False)
    budget = study.user_attrs.get("budget", {})
    real = [t for t in trials if not is_surplus(t)]
    complete = [t for t in real if t.state == TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value or -np.inf) if complete else None
    seconds = spent_seconds(trials)
    n_counted = len(counted_trials(trials))
    used = n_counted if budget.get("kind") == "trials" else seconds
    return {
        "arch": name,
        "model": study.user_attrs.get("arch"),
        "tuned": True,
        "budget_kind": budget.get("kind"),
        "budget": budget.get("value"),
        "complete": len(complete),
        "pruned": sum(t.state == TrialState.PRUNED for t in real),
        "failed": sum(t.state == TrialState.FAIL for t in real),
        "running": sum(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in real),
        "best_auc": None if best is None else best.value,
        "best_trial": None if best is None else best.number,
        "compute_seconds": seconds,
        "cpu_seconds": float(sum(t.user_attrs.get("cpu_seconds", 0.0) for t in real)),
        "budget_met": bool(budget) and used >= float(budget.get("value", np.inf)),
        **_focus_columns(study, complete, best),
    }


def _focus_columns(study: optuna.Study, complete: list[optuna.trial.FrozenTrial],
                   best: optuna.trial.FrozenTrial | None) -> dict[str, Any]:
    """A focused study (``tuning.search_only``): the searched parameters, its configured
    trial's holdout AUC and the gain of the best trial over it (None: not focused, or the
    configured trial did not complete)."""
    only = study.user_attrs.get("search_only")
    if not only:
        return {}
    configured = next((t for t in complete if t.user_attrs.get("configured")), None)
    auc = None if configured is None else configured.value
    gain = None if auc is None or best is None or best.value is None else best.value - auc
    return {"searched": list(only), "configured_trial": None if configured is None
            else configured.number, "configured_auc": auc, "best_auc_label": SELECTED_ON,
            "gain_vs_configured": gain}


def _with_schedule(row: dict[str, Any], result: ScheduleResult | None) -> dict[str, Any]:
    """The row with its schedule-step columns; the step's seconds count in the totals."""
    if result is None:
        return {**row, "schedule": None, "schedule_epochs": None, "schedule_seconds": 0.0,
                "schedule_cpu_seconds": 0.0}
    return {**row, "schedule": result.summary(), "schedule_epochs": result.epochs,
            "schedule_seconds": result.compute_seconds,
            "schedule_cpu_seconds": result.cpu_seconds,
            "compute_seconds": row["compute_seconds"] + result.compute_seconds,
            "cpu_seconds": row["cpu_seconds"] + result.cpu_seconds}


def fairness_table(cfg: RunConfig, run_dir: Path, storage: str | None = None,
                   study_prefix: str | None = None) -> pd.DataFrame:
    """Per entry (every network entry and feature member, tuned or not): budget, trials
    complete/pruned/failed, best tuning AUC, the trial at which the best was found, whether
    the budget was met, the schedule step (decision with each round's AUC gain and CI, the
    chosen epochs, its wall and CPU seconds) and the total compute seconds (wall) and CPU
    seconds of the trials and the schedule step. An entry without a study has 0 trials
    and ``tuned`` False."""
    studies = _studies(cfg, run_dir, storage, study_prefix)
    schedules = current_schedules(cfg, run_dir, study_params(cfg, run_dir, storage,
                                                                study_prefix))
    rows = []
    for entry in tunable_entries(cfg):
        row = (_study_row(entry.name, studies[entry.name]) if entry.name in studies
               else _untuned_row(entry))
        rows.append(_with_schedule(row, schedules.get(entry.name)))
    return pd.DataFrame(rows)


def write_fairness_report(cfg: RunConfig, run_dir: Path, storage: str | None = None,
                          study_prefix: str | None = None) -> dict[str, Path]:
    """Write ``hpo/fairness.json``, ``hpo/trials.csv`` and ``hpo/fairness.png``.

    ``fairness.json`` also says whether every architecture had the same budget
    (``equal_budget``) and which ones did not use it up (``under_tuned``).
    """
    from ensembler.tuning.figures import plot_fairness

    out = hpo_dir(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = fairness_table(cfg, run_dir, storage, study_prefix)
    trials = trials_frame(cfg, run_dir, storage, study_prefix)
    report = {
        "equal_budget": equal_budget(table),
        "under_tuned": [r.arch for r in table.itertuples() if not r.budget_met],
        "untuned": [r.arch for r in table.itertuples() if not r.tuned],
        "sentence": budget_sentence(table),
        "note": "tuning AUCs come from development data; OOF AUCs of tuned members are "
                "'after tuning' (same patients); only the test set is unbiased",
        "archs": table.replace({np.nan: None}).to_dict(orient="records"),
        "schedules": {name: to_json_dict(result) for name, result in current_schedules(
            cfg, run_dir, study_params(cfg, run_dir, storage, study_prefix)).items()},
    }
    write_json(out / "fairness.json", report)
    write_text(out / "trials.csv", trials.to_csv(index=False))
    plot_fairness(trials, out / "fairness.png")
    return {"json": out / "fairness.json", "csv": out / "trials.csv", "png": out / "fairness.png"}


def equal_budget(table: pd.DataFrame) -> bool:
    """True when every entry has a study and all studies recorded the same budget."""
    budgets = {(r.budget_kind, r.budget) for r in table.itertuples()}
    return bool(len(table)) and bool(table["tuned"].all()) and len(budgets) == 1


def _budget(kind: Any, value: Any) -> str:
    if value is None or pd.isna(value):
        return "no recorded budget"
    if kind == "trials":
        return f"{float(value):g} trial{'s' if float(value) != 1 else ''}"
    if kind == "seconds":
        return f"{float(value):g} compute seconds"
    return "no recorded budget"


def budget_sentence(table: pd.DataFrame) -> str:
    """What the tuning budgets were, built from the budgets the studies recorded, and what
    the schedule step chose (from its records)."""
    steps = schedule_sentence(table)
    if not len(table) or not table["tuned"].any():
        if steps:
            return ("No hyper-parameter search: every member uses its configured "
                    f"hyper-parameters, with the epochs the schedule step chose. {steps}")
        return "No entry was tuned: every member uses its configured hyper-parameters."
    return f"{_search_sentence(table)} {steps}".strip()


def schedule_sentence(table: pd.DataFrame) -> str:
    """One sentence over the entries the schedule step ran for ("" when none)."""
    if "schedule" not in table:
        return ""
    done = [f"{r.arch} {r.schedule}" for r in table.itertuples() if isinstance(r.schedule, str)]
    if not done:
        return ""
    return ("Schedule step (on the tuning split; a longer schedule is adopted only when the "
            "lower bound of the paired patient-bootstrap 95% CI of its macro-AUC gain is "
            "above 0, and its seconds count in the entry's tuning compute): "
            + "; ".join(done) + ".")


def _search_sentence(table: pd.DataFrame) -> str:
    tuned = table[table["tuned"].astype(bool)]
    untuned = [str(a) for a in table.loc[~table["tuned"].astype(bool), "arch"]]
    budgets = {(r.budget_kind, r.budget) for r in tuned.itertuples()}
    names = ", ".join(str(a) for a in tuned["arch"])
    if len(budgets) == 1:
        kind, value = budgets.pop()
        text = (f"Tuning budget: {_budget(kind, value)} per entry for {names} (recorded by "
                "each study; same tuning split and pruner).")
    else:
        text = "Unequal tuning budgets (recorded by each study): " + ", ".join(
            f"{r.arch} {_budget(r.budget_kind, r.budget)}" for r in tuned.itertuples()) + "."
    text += focus_sentence(tuned)
    short = [str(r.arch) for r in tuned.itertuples() if not r.budget_met]
    if short:
        text += f" Budget not used up (under-tuned): {', '.join(short)}."
    if untuned:
        text += (f" Not tuned (0 trials, under-tuned; configured hyper-parameters): "
                 f"{', '.join(untuned)}. The budget is equal only among the tuned entries.")
    return text


def _auc(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.4f}"


def focus_sentence(table: pd.DataFrame) -> str:
    """" Focused search ..." over the entries whose study searched only some parameters
    ("" when none): the configured point is each such study's first trial."""
    if "searched" not in table:
        return ""
    done: list[str] = []
    for r in table.itertuples():
        if not isinstance(r.searched, list):
            continue
        gain = r.gain_vs_configured
        gain_text = "n/a" if gain is None or pd.isna(gain) else f"{float(gain):+.4f}"
        done.append(f"{r.arch} searched {', '.join(r.searched)}: configured point "
                    f"{_auc(r.configured_auc)}, best {_auc(r.best_auc)} [{SELECTED_ON}], "
                    f"gain {gain_text}")
    if not done:
        return ""
    return (" Focused search (tuning.search_only: the other parameters keep their configured "
            "values; the configured point is the first trial, scored on the same holdout "
            "with the same epochs): " + "; ".join(done) + ".")
