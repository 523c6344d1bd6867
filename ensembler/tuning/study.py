"""One Optuna study per model entry, under an equal budget shared by every worker.

Budget (recorded in the study's user attributes):

* ``trials``: the study stops at N counted trials (COMPLETE or PRUNED; RUNNING and
  WAITING ones are counted as in flight). A trial that starts while N others are
  already counted (two workers raced for the last slot) is stopped at once and
  marked ``surplus``; it is not counted, so every architecture gets exactly N.
* ``seconds``: workers stop starting trials once the study's summed trial compute
  seconds (wall, as measured inside each trial) reach S.

FAIL trials (crashed or heartbeat-stale) are never counted; stale ones are retried
with the same parameters by ``RetryHeartbeatStaleTrialCallback``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import fail_stale_trials
from optuna.trial import TrialState

from ensembler.config import FeatureMemberEntry, ModelEntry, RunConfig
from ensembler.data.cohort import Cohort
from ensembler.errors import ConfigError
from ensembler.training.feature_member import member_inputs, model_label
from ensembler.training.runner import SplitLike, model_tabular_names
from ensembler.tuning.feature_objective import FeatureObjective
from ensembler.tuning.objective import Objective, TuningSplit, make_tuning_split
from ensembler.tuning.spaces import space_for_entry
from ensembler.tuning.spaces.features import feature_space
from ensembler.tuning.spaces.focus import configured_point, effective_search_only
from ensembler.tuning.storage import open_storage, study_name
from ensembler.utils.seeds import derive_seed

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
IN_FLIGHT = (TrialState.RUNNING, TrialState.WAITING)


@dataclass(frozen=True)
class Budget:
    """Equal budget per architecture: ``kind`` "trials" or "seconds", and its ``value``."""

    kind: str
    value: float

    @classmethod
    def resolve(cls, cfg: RunConfig, trials: int | None = None,
                seconds: float | None = None) -> Budget:
        """CLI ``--trials``/``--seconds`` win over the config; ``seconds`` wins over
        ``trials`` within the config."""
        if trials is not None and seconds is not None:
            raise ConfigError("tune: give --trials or --seconds, not both")
        if trials is not None:
            return cls("trials", int(trials))
        if seconds is not None:
            return cls("seconds", float(seconds))
        if cfg.tuning.seconds is not None:
            return cls("seconds", float(cfg.tuning.seconds))
        if cfg.tuning.trials is None:
            raise ConfigError("tuning: set tuning.trials or tuning.seconds (the equal budget)")
        return cls("trials", int(cfg.tuning.trials))

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}


def is_surplus(t: optuna.trial.FrozenTrial) -> bool:
    return bool(t.user_attrs.get("surplus", False))


def counted_trials(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Finished trials that count toward the budget (COMPLETE/PRUNED, not surplus)."""
    return [t for t in trials if t.state in COUNTED and not is_surplus(t)]


def spent_seconds(trials: list[optuna.trial.FrozenTrial]) -> float:
    """Summed compute seconds of every finished trial (failed ones burned compute too)."""
    return float(sum(t.user_attrs.get("compute_seconds", 0.0) for t in trials
                     if t.state.is_finished() and not is_surplus(t)))


def budget_reached(study: optuna.Study, budget: Budget) -> bool:
    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in trials):
        return False  # a retried trial is queued: run it
    if budget.kind == "seconds":
        return spent_seconds(trials) >= budget.value
    active = [t for t in trials
              if (t.state in COUNTED or t.state == TrialState.RUNNING) and not is_surplus(t)]
    return len(active) >= budget.value


def make_pruner(cfg: RunConfig, epochs: int, n_parts: int) -> optuna.pruners.BasePruner:
    t = cfg.tuning
    if t.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=t.n_startup_trials,
                                           n_warmup_steps=t.n_warmup_steps)
    if t.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, t.n_warmup_steps),
                                              max_resource=epochs * n_parts)
    return optuna.pruners.NopPruner()


@dataclass
class TuneOutcome:
    entry: str
    study_name: str
    budget: Budget
    ran: int  # trials this worker ran
    counted: int  # counted trials in the study (all workers)
    best_value: float | None
    best_params: dict[str, Any]


def _entry(cfg: RunConfig, name: str) -> ModelEntry | FeatureMemberEntry:
    entries: list[ModelEntry | FeatureMemberEntry] = [*cfg.models, *cfg.feature_members]
    for e in entries:
        if e.name == name:
            return e
    raise ConfigError(f"tune --arch: unknown model entry {name!r}; "
                      f"entries: {[e.name for e in entries]}")


OBJECTIVE_TEXT = ("macro AUC on a patient-grouped {split} tuning split of the development rows "
                  "(test rows never used); {stop}")


def _objective(cfg: RunConfig, entry: ModelEntry | FeatureMemberEntry, cohort: Cohort,
               tsplit: TuningSplit, run_dir: Path, log: Callable[[str], None] | None
               ) -> tuple[Objective | FeatureObjective, dict[str, Any]]:
    """The study's objective and the attributes that identify what it searches."""
    tab = model_tabular_names(cfg, cohort)
    if isinstance(entry, FeatureMemberEntry):
        space_name, fspace = feature_space(entry)
        _, x, names = member_inputs(entry, cohort, run_dir, tab)
        stop = ("per-trial early stopping on an inner split of the tuning-train part"
                if entry.learner == "lightgbm" else "fitted on the whole tuning-train part")
        return FeatureObjective(cfg, entry, cohort, tsplit, fspace, x, names), {
            "arch": model_label(entry), "space": space_name, "epochs_per_trial": None,
            "objective": OBJECTIVE_TEXT.format(split=tsplit.kind, stop=stop)}
    space_name, space = space_for_entry(entry)
    obj = Objective(cfg, entry, cohort, tsplit, space, tab, log=log)
    stop = "per-trial early stopping on an inner split of the tuning-train part"
    return obj, {"arch": entry.arch, "space": space_name, "epochs_per_trial": obj.epochs,
                 "objective": OBJECTIVE_TEXT.format(split=tsplit.kind, stop=stop)}


def _check_attrs(study: optuna.Study, attrs: dict[str, Any], log: Callable[[str], None],
                 searched: Callable[[list[str]], list[str]] = list) -> None:
    """Refuse to mix trials scored on another split, another architecture, another number
    of epochs per trial or another focus (``searched``: the names a study really samples)."""
    old = study.user_attrs
    for key in ("arch", "split_fingerprint", "objective", "epochs_per_trial"):
        if key in old and key in attrs and old[key] != attrs[key]:
            raise ConfigError(
                f"study {study.study_name!r} was run with {key}={old[key]!r}, this run has "
                f"{attrs[key]!r}; its trials are not comparable: pass another --study prefix"
            )
    # absent: the whole space (studies from before search_only existed have no such attr)
    if study.get_trials(deepcopy=False) and (searched(old.get("search_only", []))
                                             != searched(attrs.get("search_only", []))):
        raise ConfigError(
            f"study {study.study_name!r} searched search_only={old.get('search_only', [])}, "
            f"this run has tuning.search_only={attrs.get('search_only', [])}; its trials "
            "searched other parameters: pass another --study prefix (tuning.study_prefix)")
    if "search_only" in old and "search_only" not in attrs:
        study.set_user_attr("search_only", [])  # an empty study re-purposed: whole space
    if "budget" in old and old["budget"] != attrs["budget"]:
        log(f"[{study.study_name}] budget changed {old['budget']} -> {attrs['budget']}")
    for key, value in attrs.items():
        if old.get(key) != value:
            study.set_user_attr(key, value)


def tune_entry(
    cfg: RunConfig,
    cohort: Cohort,
    split: SplitLike,
    run_dir: Path,
    entry_name: str,
    *,
    storage: str | None = None,
    study_prefix: str | None = None,
    trials: int | None = None,
    seconds: float | None = None,
    worker: int = 0,
    log: Callable[[str], None] | None = print,
) -> TuneOutcome:
    """Run (or join) the study of model entry ``entry_name`` (a network entry or a feature
    member) until its budget is spent.

    Several processes may call this with the same storage and study: they share the
    trials and stop together when the budget is reached. ``worker`` only varies the
    sampler seed, so concurrent workers propose different first candidates.
    """
    say = log or (lambda _msg: None)
    entry = _entry(cfg, entry_name)
    budget = Budget.resolve(cfg, trials, seconds)
    tsplit: TuningSplit = make_tuning_split(cfg, cohort.labels, cohort.patient_id,
                                            split.fold, cohort.fingerprint)
    objective, what = _objective(cfg, entry, cohort, tsplit, run_dir, log)
    name = study_name(cfg, entry.name, study_prefix)
    study = _open_study(cfg, run_dir, storage, name,
                        derive_seed(cfg.seed, "tpe", entry.name, worker),
                        make_pruner(cfg, objective.epochs, len(tsplit.parts)))
    only = cfg.tuning.search_only_for(entry.name)
    _check_attrs(study, {
        "entry": entry.name, **what, "seed": cfg.seed, "budget": budget.as_dict(),
        "split_fingerprint": tsplit.fingerprint, "pruner": cfg.tuning.pruner,
        **({"search_only": only} if only else {}),
    }, say, searched=(partial(effective_search_only, entry) if isinstance(entry, ModelEntry)
                      else list))
    if only and isinstance(entry, ModelEntry):
        _enqueue_configured(cfg, study, entry, only)
    ran = _run_until_budget(study, budget, objective, worker, name, say)
    done = study.get_trials(deepcopy=False)
    complete = [f for f in done if f.state == TrialState.COMPLETE]
    best = max(complete, key=lambda f: f.value or float("-inf")) if complete else None
    return TuneOutcome(
        entry=entry.name, study_name=name, budget=budget, ran=ran,
        counted=len(counted_trials(done)),
        best_value=None if best is None else best.value,
        best_params={} if best is None else dict(best.params),
    )


def _enqueue_configured(cfg: RunConfig, study: optuna.Study, entry: ModelEntry,
                        only: list[str]) -> None:
    """A focused study's first trial is the entry's configured point (the untuned member),
    so the study shows whether the searched values beat it; never enqueued twice."""
    if study.get_trials(deepcopy=False):
        return
    study.enqueue_trial(configured_point(cfg, entry, only), user_attrs={"configured": True},
                        skip_if_exists=True)


def _open_study(cfg: RunConfig, run_dir: Path, storage: str | None, name: str, seed: int,
                pruner: optuna.pruners.BasePruner) -> optuna.Study:
    """Create or join study ``name``: multivariate TPE with the constant liar (parallel
    workers do not pile onto one point), seeded with ``seed``."""
    sampler = optuna.samplers.TPESampler(
        multivariate=True, constant_liar=True, n_startup_trials=cfg.tuning.tpe_startup_trials,
        seed=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.create_study(
            storage=open_storage(cfg, run_dir, storage), study_name=name, direction="maximize",
            sampler=sampler, pruner=pruner, load_if_exists=True,
        )


def _run_until_budget(study: optuna.Study, budget: Budget,
                      objective: Callable[[optuna.trial.Trial], float], worker: int, name: str,
                      say: Callable[[str], None]) -> int:
    """Run trials one at a time until the study's budget is spent (by any worker); a trial
    started beyond a trial budget is pruned as ``surplus``. Returns the trials run here."""

    def guarded(trial: optuna.trial.Trial) -> float:
        trial.set_user_attr("worker", worker)
        if budget.kind == "trials":
            earlier = [f for f in study.get_trials(deepcopy=False, states=COUNTED + IN_FLIGHT)
                       if f.number < trial.number and not is_surplus(f)]
            if len(earlier) >= budget.value:
                trial.set_user_attr("surplus", True)
                raise optuna.TrialPruned("budget already taken by other workers")
        return objective(trial)

    def announce(_study: optuna.Study, ft: optuna.trial.FrozenTrial) -> None:
        value = "-" if ft.value is None else f"{ft.value:.4f}"
        say(f"[{name}] trial {ft.number} {ft.state.name} AUC {value} "
            f"({ft.user_attrs.get('compute_seconds', float('nan')):.1f}s)")

    ran = 0
    while True:
        with warnings.catch_warnings():  # "experimental" since Optuna 2.9, stable in use
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fail_stale_trials(study)  # dead workers' trials -> FAIL (+ retry enqueued)
        if budget_reached(study, budget):
            break
        study.optimize(guarded, n_trials=1, gc_after_trial=False, callbacks=[announce])
        ran += 1
    return ran
