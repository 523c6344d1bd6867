"""The tuning objective: macro AUC on a patient-grouped split of the development rows.

Test rows (``fold == -1``) are never touched: the tuning split is carved from the
development rows only, and each trial early-stops on its own inner split carved
out of the tuning-train part, so the rows that score a trial are never used to
fit or stop it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import optuna
from sklearn.model_selection import StratifiedGroupKFold

from ensembler.config import ModelEntry, RunConfig
from ensembler.data.cohort import Cohort
from ensembler.errors import SplitError
from ensembler.training.inner import inner_split, stratify_key
from ensembler.training.jobs import member_tabular
from ensembler.training.loop import EpochCallback, fit_model, resolve_device, window_lengths
from ensembler.training.members import MemberSpec, expand_entry, resolve_training
from ensembler.training.metrics import macro_auc
from ensembler.training.windows import predict_windows
from ensembler.tuning.spaces import SuggestFn, suggest_member
from ensembler.utils.hashing import array_digest, fingerprint
from ensembler.utils.seeds import derive_seed


@dataclass(frozen=True)
class TuningSplit:
    """``parts[i] = (train_rows, score_rows)``: row indices into the cohort, development only.

    ``kind`` is "holdout" (one part) or "inner_folds" (one part per inner fold).
    """

    kind: str
    parts: tuple[tuple[np.ndarray, np.ndarray], ...]
    fingerprint: str


def make_tuning_split(
    cfg: RunConfig, labels: np.ndarray, patient_id: np.ndarray, fold: np.ndarray,
    cohort_fingerprint: str = "",
) -> TuningSplit:
    """Carve the tuning split from the development rows (``fold >= 0``) only.

    Parameters
    ----------
    labels : (N, C), patient_id : (N,), fold : (N,) with -1 for test rows
    """
    t = cfg.tuning
    dev = np.flatnonzero(np.asarray(fold) >= 0)
    if len(dev) == 0:
        raise SplitError("tuning: the split has no development rows (fold >= 0) to tune on")
    seed = derive_seed(cfg.seed, "tuning-split")
    if t.objective_split == "holdout":
        tr, va = inner_split(dev, labels, patient_id, t.holdout_fraction, seed)
        parts: tuple[tuple[np.ndarray, np.ndarray], ...] = ((tr, va),)
    else:
        n_groups = len(np.unique(patient_id[dev]))
        if n_groups < t.inner_folds:
            raise SplitError(
                f"tuning.inner_folds={t.inner_folds} needs at least that many development "
                f"patients, got {n_groups}"
            )
        sgkf = StratifiedGroupKFold(n_splits=t.inner_folds, shuffle=True, random_state=seed)
        parts = tuple(
            (dev[a], dev[b])
            for a, b in sgkf.split(dev, stratify_key(labels[dev]), patient_id[dev])
        )
    fp = fingerprint({
        "kind": t.objective_split, "cohort": cohort_fingerprint,
        "parts": [[array_digest(a), array_digest(b)] for a, b in parts],
    })
    return TuningSplit(kind=t.objective_split, parts=parts, fingerprint=fp)


def tuned_member(cfg: RunConfig, entry: ModelEntry, tabular_names: list[str],
                 tuned: dict[str, Any] | None) -> MemberSpec:
    """What OOF training builds for ``entry`` from ``tuned`` (None or {}: its configured
    parameters), one replica: a trial and the schedule step train exactly this."""
    one = entry.model_copy(update={"use_tuned": True, "seeds": 1, "bootstrap": 0})
    return expand_entry(one, cfg, tabular_names, tuned=tuned)[0]


class Objective:
    """``objective(trial) -> mean macro AUC`` over the tuning split's parts.

    Each epoch reports the trial's inner-validation AUC (step ``part * epochs + epoch``)
    and asks the pruner; the trial's own compute seconds (wall and CPU) are stored in
    its user attributes, pruned or not.
    """

    def __init__(
        self, cfg: RunConfig, entry: ModelEntry, cohort: Cohort, split: TuningSplit,
        space: SuggestFn, tabular_names: list[str], log: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.entry = entry
        self.cohort = cohort
        self.split = split
        self.space = space
        self.tabular_names = tabular_names
        self.log = log
        # one seed for every trial (common random numbers): trials differ by their
        # hyper-parameters, not by their initialisation
        self.seed = derive_seed(cfg.seed, "tune", entry.name)

    @property
    def epochs(self) -> int:
        """Per trial: ``tuning.epochs``, else the epochs the entry trains with (its own
        ``training.epochs`` override, else the global one)."""
        return self.cfg.tuning.epochs or resolve_training(
            self.cfg.training, self.entry.training.overrides()).epochs

    def member(self, params: dict[str, Any]) -> MemberSpec:
        return tuned_member(self.cfg, self.entry, self.tabular_names, params)

    def __call__(self, trial: optuna.trial.Trial) -> float:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            spec = self.member(suggest_member(trial, self.entry, self.space,
                                              self.cfg.tuning.search_only_for(self.entry.name)))
            aucs = [self._fit_part(trial, spec, i) for i in range(len(self.split.parts))]
        finally:
            trial.set_user_attr("compute_seconds", time.perf_counter() - t0)
            trial.set_user_attr("cpu_seconds", time.process_time() - c0)
        trial.set_user_attr("part_aucs", aucs)
        return float(np.mean(aucs))

    def _fit_part(self, trial: optuna.trial.Trial, spec: MemberSpec, part: int) -> float:
        epochs = self.epochs

        def report(epoch: int, row: dict[str, float]) -> None:
            value = row["val_auc"] if np.isfinite(row["val_auc"]) else -row["val_loss"]
            trial.report(float(value), part * epochs + epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at part {part} epoch {epoch}")

        fit = fit_and_score(spec, self.cohort, self.split.parts[part], seed=self.seed,
                            index=part, epochs=epochs, epoch_callback=report, log=self.log,
                            log_prefix=f"[{spec.entry} trial {trial.number} part {part}] ")
        return macro_auc(self.cohort.labels[self.split.parts[part][1]], fit.proba)


class FitScore(NamedTuple):
    """``proba``: (len(score_rows), C) probabilities of the kept (best inner-validation
    epoch) model on the scored rows; its ``best_epoch`` and fit wall ``seconds``."""

    proba: np.ndarray
    best_epoch: int
    seconds: float


def fit_and_score(
    spec: MemberSpec, cohort: Cohort, part: tuple[np.ndarray, np.ndarray], *, seed: int,
    index: int = 0, epochs: int, epoch_callback: EpochCallback | None = None,
    log: Callable[[str], None] | None = None, log_prefix: str = "",
) -> FitScore:
    """Fit ``spec`` for ``epochs`` on a tuning part's train rows and score its held-out rows.

    ``part = (train_rows, score_rows)``. The model early-stops (keeps its best epoch) on an
    inner patient-grouped split of ``train_rows`` (seed ``derive_seed(seed, "inner",
    index)``), so the scored rows never fit or stop it. A trial and the schedule step call
    this with the same ``seed`` and ``index``, so equal settings train the same model.
    """
    c = cohort
    train_rows, score_rows = part
    tr, va = inner_split(train_rows, c.labels, c.patient_id, spec.training.inner_val_fraction,
                         derive_seed(seed, "inner", index))
    tab = member_tabular(c, spec.tabular_names)
    device = resolve_device(spec.training.device)
    res = fit_model(spec, c.signals, c.labels, tab, c.fs, tr, va,
                    seed=derive_seed(seed, "fit", index), epochs=epochs, device=device,
                    epoch_callback=epoch_callback, log=log, log_prefix=log_prefix)
    win, stride = window_lengths(spec, c.fs, c.signals.shape[-1])
    x = res.state.transform_signals(c.signals[score_rows])
    t = res.state.transform_tabular(None if tab is None else tab[score_rows])
    proba = predict_windows(res.model, x, t, win, stride, spec.training.eval_aggregate,
                            device=device, autocast=device.type == "cuda")
    return FitScore(proba=proba, best_epoch=int(res.best_epoch), seconds=float(res.seconds))
