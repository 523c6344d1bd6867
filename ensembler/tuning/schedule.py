"""The schedule step of tuning (``tuning.schedule``): is an entry's epoch count long enough?

Converged means: a ``factor`` x longer schedule gains less than the bootstrap noise of the
tuning holdout. With one-cycle schedules "best epoch = last epoch" says nothing (the
learning rate anneals to zero at the end), so the step compares schedules directly:

1. train the entry's chosen parameters (its study's best, or its configured values when
   ``tuning.search`` leaves it out) for E epochs and for E' = round(factor x E) epochs on the
   tuning split -- the patient-grouped holdout (or inner folds) of development rows the
   objective scores; each model keeps its best epoch on an inner split of the
   tuning-train part, as a trial and a fold model do;
2. macro AUC of both on the split's scored rows, and the paired patient-bootstrap CI of
   AUC(E') - AUC(E) (:func:`ensembler.evaluation.paired_bootstrap_delta`);
3. lower CI bound above 0: adopt E' and repeat from it (``max_rounds`` comparisons at
   most); else keep E ("converged at E").

It never reads the OOF folds' predictions or the test rows. The chosen epochs become the
``training.epochs`` of the entry's tuned parameters, so OOF training uses them. The result
is recorded per entry in ``<run_dir>/hpo/schedule/<entry>.json`` by a
:class:`~ensembler.pipeline.stage.Stage` keyed by what the step started from and the
tuning split: a rerun with the same key reloads it. Each trained schedule is also kept
(``<run_dir>/hpo/schedule/<entry>/<key>-<epochs>.npz``), so an interrupted step resumes
after its last finished schedule.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ensembler.config import ModelEntry, RunConfig, ScheduleConfig
from ensembler.data.cohort import Cohort
from ensembler.evaluation import paired_bootstrap_delta
from ensembler.pipeline.stage import Stage
from ensembler.training.members import MemberSpec
from ensembler.training.metrics import macro_auc
from ensembler.training.runner import SplitLike, model_tabular_names
from ensembler.tuning.objective import (
    TuningSplit,
    fit_and_score,
    make_tuning_split,
    tuned_member,
)
from ensembler.utils.atomic import save_npz
from ensembler.utils.hashing import fingerprint
from ensembler.utils.jsonclass import SchemaError, from_json_dict, to_json_dict
from ensembler.utils.seeds import derive_seed


@dataclass(frozen=True)
class Scored:
    """One schedule trained and scored: (n, C) probabilities on the scored rows, the best
    inner-validation epoch of each tuning part's model, the fits' wall and CPU seconds, and
    whether it was reloaded from an earlier, interrupted run of the step."""

    proba: np.ndarray
    best_epochs: list[int]
    seconds: float
    cpu_seconds: float = 0.0
    reused: bool = False


#: trains and scores one schedule: epochs -> Scored
Scorer = Callable[[int], Scored]


@dataclass
class ScheduleRound:
    """One comparison: ``epochs`` against ``epochs_longer`` on the same scored rows."""

    epochs: int
    epochs_longer: int
    auc: float
    auc_longer: float
    delta: float  # auc_longer - auc
    ci_low: float  # paired patient-bootstrap 95 % CI of delta
    ci_high: float
    p_value: float
    best_epochs: list[int]  # best inner-validation epoch per tuning part
    best_epochs_longer: list[int]
    fit_seconds: float  # wall seconds of the fits of each schedule
    fit_seconds_longer: float
    extended: bool  # ci_low > 0: the longer schedule was adopted


@dataclass
class ScheduleResult:
    """What the schedule step chose for one entry, and what it cost."""

    entry: str
    start_epochs: int
    epochs: int  # the chosen schedule
    converged: bool  # False when the last allowed round still extended
    decision: str
    factor: float
    n_scored: int  # scored rows of the tuning split (development rows only)
    n_patients: int
    compute_seconds: float  # wall
    cpu_seconds: float  # process CPU
    basis: str  # fingerprint of what the step started from (see schedule_basis)
    rounds: list[ScheduleRound] = field(default_factory=list)

    def summary(self) -> str:
        """``decision (E->E': delta [lo, hi]; ...)``, for tables and sentences."""
        steps = "; ".join(f"{r.epochs}->{r.epochs_longer}: {r.delta:+.3f} "
                          f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]" for r in self.rounds)
        return f"{self.decision} ({steps})" if steps else self.decision


def longer_schedule(epochs: int, factor: float) -> int:
    """round(factor x epochs), halves rounded up, and at least ``epochs + 1``."""
    return max(epochs + 1, math.floor(factor * epochs + 0.5))


def decision_text(start: int, epochs: int, converged: bool) -> str:
    n = f"{epochs} epoch{'s' if epochs != 1 else ''}"
    if epochs == start:
        return f"converged at {n}"
    if converged:
        return f"extended to {n} (converged there)"
    return f"extended to {n} (max_rounds reached: not shown converged)"


def choose_epochs(score: Scorer, y: np.ndarray, groups: np.ndarray, start: int,
                  settings: ScheduleConfig, seed: int,
                  say: Callable[[str], None] = lambda _m: None,
                  ) -> tuple[int, bool, list[ScheduleRound]]:
    """Extend ``start`` while the longer schedule's AUC gain has a CI above 0.

    ``score(epochs)`` trains and scores one schedule; ``y`` (n, C) and ``groups`` (n,) are
    the labels and patient ids of the rows it scores. Returns (chosen epochs, converged,
    rounds). Each schedule is trained once (the longer one of a round is the next round's
    shorter one).
    """
    current, short = start, score(start)
    rounds: list[ScheduleRound] = []
    for _ in range(settings.max_rounds):
        longer = longer_schedule(current, settings.factor)
        long = score(longer)
        d = paired_bootstrap_delta(y, long.proba, short.proba, groups,
                                   n_boot=settings.n_bootstrap, seed=seed)
        r = ScheduleRound(current, longer, macro_auc(y, short.proba), macro_auc(y, long.proba),
                          d.delta, d.lo, d.hi, d.p_value, short.best_epochs, long.best_epochs,
                          short.seconds, long.seconds, extended=d.lo > 0)
        rounds.append(r)
        say(f"{current} -> {longer} epochs: AUC {r.auc:.4f} -> {r.auc_longer:.4f}, "
            f"delta {r.delta:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}]: "
            + ("extended" if r.extended else "kept"))
        if not r.extended:
            return current, True, rounds
        current, short = longer, long
    return current, False, rounds


def scored_rows(split: TuningSplit) -> np.ndarray:
    """The rows the schedule step scores: every part's held-out rows, in part order."""
    return np.concatenate([score for _, score in split.parts])


def holdout_scorer(spec: MemberSpec, cohort: Cohort, split: TuningSplit, seed: int,
                   log: Callable[[str], None] | None = None) -> Scorer:
    """Train ``spec`` for a number of epochs on each tuning part and score its held-out rows
    (the objective's own fit, :func:`ensembler.tuning.objective.fit_and_score`)."""

    def score(epochs: int) -> Scored:
        c0 = time.process_time()
        fits = [fit_and_score(spec, cohort, part, seed=seed, index=i, epochs=epochs, log=log,
                              log_prefix=f"[{spec.entry} schedule {epochs} ep part {i}] ")
                for i, part in enumerate(split.parts)]
        return Scored(np.concatenate([f.proba for f in fits]), [f.best_epoch for f in fits],
                      sum(f.seconds for f in fits), time.process_time() - c0)

    return score


def cached_scorer(score: Scorer, folder: Path, key: str) -> Scorer:
    """``score`` with each trained schedule saved as ``<folder>/<key>-<epochs>.npz`` and
    reloaded by a rerun with the same key, so an interrupted step resumes after its last
    finished schedule (as an interrupted study resumes after its last finished trial)."""

    def cached(epochs: int) -> Scored:
        path = Path(folder) / f"{key}-{epochs}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                return Scored(z["proba"], [int(e) for e in z["best_epochs"]],
                              float(z["seconds"]), float(z["cpu_seconds"]), reused=True)
        s = score(epochs)
        save_npz(path, proba=s.proba, best_epochs=np.asarray(s.best_epochs),
                 seconds=np.asarray(s.seconds), cpu_seconds=np.asarray(s.cpu_seconds))
        return s

    return cached


def run_schedule(spec: MemberSpec, cohort: Cohort, split: TuningSplit, settings: ScheduleConfig,
                 seed: int, basis: str = "", log: Callable[[str], None] | None = None,
                 cache: tuple[Path, str] | None = None) -> ScheduleResult:
    """The schedule step for one member spec on the tuning split, timed (wall and CPU).

    ``seed``: the entry's tuning seed (a trial with the same settings trains the same
    model). Starts from ``spec.training.epochs``. ``cache = (folder, key)`` keeps each
    trained schedule (:func:`cached_scorer`); reloaded ones count with their own seconds.
    """
    rows = scored_rows(split)
    seen: list[Scored] = []
    base = holdout_scorer(spec, cohort, split, seed, log)
    inner = cached_scorer(base, *cache) if cache is not None else base

    def score(epochs: int) -> Scored:
        seen.append(inner(epochs))
        return seen[-1]

    def say(message: str) -> None:
        if log is not None:
            log(f"[{spec.entry} schedule] {message}")

    t0, c0 = time.perf_counter(), time.process_time()
    epochs, converged, rounds = choose_epochs(
        score, cohort.labels[rows], cohort.patient_id[rows], spec.training.epochs, settings,
        derive_seed(seed, "schedule-bootstrap"), say)
    start = spec.training.epochs
    reused = [s for s in seen if s.reused]
    return ScheduleResult(
        entry=spec.entry, start_epochs=start, epochs=epochs, converged=converged,
        decision=decision_text(start, epochs, converged), factor=settings.factor,
        n_scored=len(rows), n_patients=len(np.unique(cohort.patient_id[rows])),
        compute_seconds=time.perf_counter() - t0 + sum(s.seconds for s in reused),
        cpu_seconds=time.process_time() - c0 + sum(s.cpu_seconds for s in reused),
        basis=basis, rounds=rounds)


def schedule_basis(cfg: RunConfig, entry: ModelEntry, tuned: dict[str, Any] | None) -> str:
    """Fingerprint of what the step starts from: the entry, the training defaults, the
    study's tuned parameters (none: {}), the seed and the tuning and schedule settings.
    A recorded schedule applies to OOF training only while this is unchanged."""
    t = cfg.tuning
    return fingerprint({
        "entry": entry.model_dump(mode="json"), "training": cfg.training, "tuned": tuned or {},
        "seed": cfg.seed, "schedule": t.schedule,
        "split": [t.objective_split, t.holdout_fraction, t.inner_folds],
    })


def schedule_path(run_dir: Path, entry_name: str) -> Path:
    return Path(run_dir) / "hpo" / "schedule" / f"{entry_name}.json"


def schedule_cache(run_dir: Path, entry_name: str, basis: str,
                   tsplit: TuningSplit) -> tuple[Path, str]:
    """``(folder, key)`` of the step's trained schedules (:func:`cached_scorer`); the key
    changes with the basis (settings, max_rounds included) and the tuning split."""
    folder = schedule_path(run_dir, entry_name).with_suffix("")
    return folder, fingerprint({"basis": basis, "split": tsplit.fingerprint})


def read_schedule(run_dir: Path, entry_name: str) -> ScheduleResult | None:
    """The recorded result of ``entry_name``'s schedule step (None when none or unreadable)."""
    rec = Stage.read_record(schedule_path(run_dir, entry_name))
    if rec is None or "result" not in rec:
        return None
    try:
        return from_json_dict(ScheduleResult, rec["result"], str(schedule_path(run_dir,
                                                                                entry_name)))
    except SchemaError:
        return None


def schedule_member(cfg: RunConfig, entry: ModelEntry, cohort: Cohort,
                    tuned: dict[str, Any] | None) -> MemberSpec:
    """The member the step trains: what OOF training builds from ``tuned`` (one replica)."""
    return tuned_member(cfg, entry, model_tabular_names(cfg, cohort), tuned)


def schedule_entry(cfg: RunConfig, cohort: Cohort, split: SplitLike, run_dir: Path,
                   entry: ModelEntry, tuned: dict[str, Any] | None,
                   log: Callable[[str], None] | None = print) -> ScheduleResult:
    """Run (or reload, when its key is unchanged) the schedule step of network ``entry``,
    starting from its ``tuned`` parameters (its study's best; None or {}: configured)."""
    tsplit = make_tuning_split(cfg, cohort.labels, cohort.patient_id, split.fold,
                               cohort.fingerprint)
    basis = schedule_basis(cfg, entry, tuned)
    path = schedule_path(run_dir, entry.name)
    cache = schedule_cache(run_dir, entry.name, basis, tsplit)

    def run() -> tuple[ScheduleResult, dict[str, Any]]:
        spec = schedule_member(cfg, entry, cohort, tuned)
        result = run_schedule(spec, cohort, tsplit, cfg.tuning.schedule,
                              derive_seed(cfg.seed, "tune", entry.name), basis, log, cache)
        return result, {"result": to_json_dict(result)}

    stage: Stage[ScheduleResult] = Stage(
        f"schedule {entry.name}", path,
        inputs={"basis": basis, "tuning split": tsplit.fingerprint}, run=run,
        load=lambda rec: from_json_dict(ScheduleResult, rec["result"], str(path)),
        say=log)
    return stage.execute()
