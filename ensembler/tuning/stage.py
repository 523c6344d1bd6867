"""The tuning stage of one run, per entry: the Optuna search, then the schedule step.

The one sequence ``ensembler tune`` and ``ensembler run`` (with ``tuning.enabled``) both
follow. Either part can be off: ``tuning.search: false`` runs no trials (the schedule
step starts from the configured hyper-parameters), a list of entry names runs trials for
those entries only, ``tuning.schedule.enabled: false`` keeps the configured epochs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ensembler.config import RunConfig
from ensembler.data.cohort import Cohort
from ensembler.training.runner import SplitLike
from ensembler.tuning.entries import check_names, refuse_budget_without_study
from ensembler.tuning.results import study_params
from ensembler.tuning.schedule import ScheduleResult, schedule_entry
from ensembler.tuning.study import TuneOutcome, tune_entry


@dataclass
class EntryTuning:
    """What the stage did for one entry: its study (None: search off) and its schedule
    step (None: off, a feature member, or left to worker 0)."""

    entry: str
    study: TuneOutcome | None
    schedule: ScheduleResult | None
    note: str = ""


def tune_entries(
    cfg: RunConfig, cohort: Cohort, split: SplitLike, run_dir: Path, names: list[str], *,
    storage: str | None = None, study_prefix: str | None = None, trials: int | None = None,
    seconds: float | None = None, worker: int = 0, log: Callable[[str], None] | None = print,
) -> list[EntryTuning]:
    """Search (the entries ``tuning.search`` covers) then schedule (when
    ``tuning.schedule.enabled``) each of ``names``, in order.

    The schedule step runs for network entries only (a feature member's LightGBM
    early-stops on its own) and only in worker 0 (``--worker``; the other workers of a
    shared study add trials only); it starts from the study's best trial as it stands.
    """
    t = cfg.tuning
    refuse_budget_without_study(cfg, names, trials, seconds)
    networks = {m.name: m for m in cfg.models}
    check_names(cfg, names)
    out = []
    for name in names:
        study = (tune_entry(cfg, cohort, split, run_dir, name, storage=storage,
                            study_prefix=study_prefix, trials=trials, seconds=seconds,
                            worker=worker, log=log) if t.searches(name) else None)
        if not t.schedule.enabled:
            out.append(EntryTuning(name, study, None))
        elif name not in networks:
            out.append(EntryTuning(name, study, None, "schedule step: not for feature "
                                   "members (their learner early-stops)"))
        elif worker != 0:
            out.append(EntryTuning(name, study, None, "schedule step: left to worker 0"))
        else:
            tuned = study_params(cfg, run_dir, storage, study_prefix).get(name)
            out.append(EntryTuning(name, study, schedule_entry(
                cfg, cohort, split, run_dir, networks[name], tuned, log=log)))
    return out
