"""The tuning objective of a feature member: the same tuning split as the networks' studies.

A trial draws learner settings, and for each part of the tuning split (carved from the
development rows by :func:`ensembler.tuning.objective.make_tuning_split`, identical for
every study of the run) fits the learner on the part's train rows — early-stopped, for
LightGBM, on an inner patient-grouped split of them, exactly as a fold is — and scores
macro AUC on the part's held-out rows. Test rows are never touched. The features come
from the run's feature cache (computed once per cohort and feature-set spec).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna

from ensembler.config import FeatureMemberEntry, RunConfig
from ensembler.data.cohort import Cohort
from ensembler.training.feature_learners import fit_learner
from ensembler.training.feature_member import tuned_entry
from ensembler.training.inner import inner_split
from ensembler.training.metrics import macro_auc
from ensembler.tuning.objective import TuningSplit
from ensembler.utils.seeds import derive_seed


class FeatureObjective:
    """``objective(trial) -> mean macro AUC`` of a feature member's learner over the tuning
    split's parts; reports each part's AUC (step = part) to the pruner and stores the
    trial's wall and CPU seconds in its user attributes, pruned or not.

    ``x``: (N, F) learner input of the whole cohort (features, then tabular columns),
    ``names``: its F column names.
    """

    #: one "epoch" per part: the pruner's resource is the number of parts scored
    epochs = 1

    def __init__(self, cfg: RunConfig, entry: FeatureMemberEntry, cohort: Cohort,
                 split: TuningSplit, space: Callable[[optuna.trial.BaseTrial], dict[str, Any]],
                 x: np.ndarray, names: list[str]) -> None:
        self.cfg = cfg
        self.entry = entry.model_copy(update={"use_tuned": True})
        self.cohort = cohort
        self.split = split
        self.space = space
        self.x = x
        self.names = names
        self.seed = derive_seed(cfg.seed, "tune", entry.name)  # common random numbers

    def __call__(self, trial: optuna.trial.Trial) -> float:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            entry = tuned_entry(self.entry, self.space(trial))
            aucs = []
            for part in range(len(self.split.parts)):
                aucs.append(self._fit_part(entry, part))
                trial.report(aucs[-1], part)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after part {part}")
        finally:
            trial.set_user_attr("compute_seconds", time.perf_counter() - t0)
            trial.set_user_attr("cpu_seconds", time.process_time() - c0)
        trial.set_user_attr("part_aucs", aucs)
        return float(np.mean(aucs))

    def _fit_part(self, entry: FeatureMemberEntry, part: int) -> float:
        c = self.cohort
        train_rows, score_rows = self.split.parts[part]
        tr, va = inner_split(train_rows, c.labels, c.patient_id,
                             self.cfg.training.inner_val_fraction,
                             derive_seed(self.seed, "inner", part))
        model = fit_learner(entry, self.x, c.labels, tr, va,
                            derive_seed(self.seed, "fit", part), self.names)
        return macro_auc(c.labels[score_rows], model.predict(self.x[score_rows]))
