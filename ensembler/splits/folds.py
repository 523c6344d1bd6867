"""Patient-grouped, label-stratified K folds plus an optional held-out test set."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

from ensembler.config import SplitConfig
from ensembler.data.cohort import Cohort
from ensembler.data.table import DEV_FOLD, TEST_FOLD
from ensembler.errors import SplitError
from ensembler.splits.checks import check_split


@dataclass(frozen=True)
class Split:
    """A fold assignment.

    Attributes
    ----------
    fold : ndarray (N,) int, 0..n_folds-1 for dev records, -1 for test records
    n_folds : int
    seed : int
    record_id : ndarray (N,) str, the row order the folds refer to
    fingerprint : str, SHA-256 (16 hex) of the fold vector and record ids
    """

    fold: np.ndarray
    n_folds: int
    seed: int
    record_id: np.ndarray
    fingerprint: str

    @staticmethod
    def make(fold: np.ndarray, n_folds: int, seed: int, record_id: np.ndarray) -> Split:
        h = hashlib.sha256(np.asarray(fold, np.int64).tobytes())
        h.update("\x1f".join(map(str, record_id)).encode())
        return Split(np.asarray(fold, np.int64), n_folds, seed, np.asarray(record_id, str),
                     h.hexdigest()[:16])

    @property
    def dev_index(self) -> np.ndarray:
        return np.flatnonzero(self.fold >= 0)

    @property
    def test_index(self) -> np.ndarray:
        return np.flatnonzero(self.fold == TEST_FOLD)

    def to_json(self, path: str | Path) -> None:
        """Write ``split.json`` atomically (temp file then rename)."""
        from ensembler.utils.atomic import write_text

        write_text(path, json.dumps({
            "n_folds": self.n_folds, "seed": self.seed, "fingerprint": self.fingerprint,
            "record_id": self.record_id.tolist(), "fold": self.fold.tolist()}))

    @classmethod
    def from_json(cls, path: str | Path) -> Split:
        """Read ``split.json``; SplitError if malformed or its fingerprint does not match."""
        p = Path(path)
        try:
            raw = json.loads(p.read_text())
            split = cls.make(np.array(raw["fold"]), int(raw["n_folds"]), int(raw["seed"]),
                             np.array(raw["record_id"], str))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SplitError(f"{p}: unreadable split file: {exc}") from None
        if split.fingerprint != raw.get("fingerprint"):
            raise SplitError(f"{p}: fingerprint mismatch (file edited or corrupt)")
        return split


def stratification_key(labels: np.ndarray, n_folds: int) -> np.ndarray:
    """One int per record: the label combination; combinations rarer than ``n_folds`` pooled."""
    keys = np.array(["".join(map(str, row)) for row in np.asarray(labels, np.uint8)])
    values, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    rare = counts[inverse] < n_folds
    out = inverse.astype(np.int64)
    out[rare] = len(values)  # one pooled stratum
    if 0 < rare.sum() < n_folds:  # still too small: fold it into the largest stratum
        out[rare] = np.argmax(counts)
    return out


def _grouped_folds(labels: np.ndarray, groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    n_groups = len(np.unique(groups))
    if n_groups < k:
        raise SplitError(f"{n_groups} dev patients cannot fill {k} folds")
    fold = np.empty(len(groups), np.int64)
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for f, (_, idx) in enumerate(cv.split(np.zeros(len(groups)), stratification_key(labels, k),
                                          groups)):
        fold[idx] = f
    return fold


def _check_predefined(pid: np.ndarray, pre: np.ndarray, cfg: SplitConfig,
                      record_id: np.ndarray) -> None:
    """Predefined folds must respect patients: every fold when the dev folds are kept, the
    test/development boundary when they are recomputed. Kept dev folds need a fold on every
    development record (a blank manifest fold is ``DEV_FOLD``)."""
    if cfg.dev_folds != "predefined":
        check_split(pid, np.where(pre == TEST_FOLD, TEST_FOLD, 0))
        return
    blank = np.flatnonzero(pre == DEV_FOLD)
    if len(blank):
        raise SplitError(f"split.dev_folds 'predefined' but {len(blank)} development record(s) "
                         f"have a blank fold (e.g. {[str(r) for r in record_id[blank[:3]]]}); "
                         "give each a fold >= 0, or use split.dev_folds: grouped")
    check_split(pid, pre)


def make_split(cohort: Cohort, cfg: SplitConfig, seed: int) -> Split:
    """Assign every record of ``cohort`` to a dev fold (0..K-1) or the test set (-1).

    A pure function of (cohort labels/patients/predefined folds, cfg, seed).
    ``cfg.test``: ``"fraction"`` samples ``test_fraction`` of patients
    (``GroupShuffleSplit``); ``"predefined"`` uses ``cohort.predefined_fold == -1``
    (PTB-XL: strat_fold 10, or 9 when 10 is absent; manifests: fold ``-1``/``test``);
    ``"none"`` keeps every record in dev. Dev folds are ``StratifiedGroupKFold`` over
    patients, stratified on the label combination, or (``dev_folds: predefined``)
    the predefined dev folds in sorted order, K = their number.

    Raises
    ------
    SplitError
        No predefined folds when required, too few patients for K folds, or a
        patient on two sides of the split (predefined folds that disagree with
        patient ids).
    """
    n = len(cohort)
    pid = np.asarray(cohort.patient_id).astype(str)
    fold = np.zeros(n, np.int64)
    predefined = cohort.predefined_fold
    if cfg.test == "predefined" or cfg.dev_folds == "predefined":
        if predefined is None:
            raise SplitError("split.test/dev_folds 'predefined' but the cohort has no "
                             "predefined folds (PTB-XL strat_fold or a manifest fold_column)")
        _check_predefined(pid, np.asarray(predefined), cfg, cohort.record_id)
    if cfg.test == "predefined":
        assert predefined is not None
        test = np.asarray(predefined) == TEST_FOLD
        if not test.any():
            raise SplitError("split.test 'predefined' but no record is marked as test (-1)")
    elif cfg.test == "fraction" and cfg.test_fraction > 0:
        gss = GroupShuffleSplit(n_splits=1, test_size=cfg.test_fraction, random_state=seed)
        _, test_idx = next(gss.split(np.zeros(n), groups=pid))
        test = np.zeros(n, bool)
        test[test_idx] = True
    else:
        test = np.zeros(n, bool)
    dev = np.flatnonzero(~test)
    if cfg.dev_folds == "predefined":
        assert predefined is not None
        values = np.unique(np.asarray(predefined)[dev])
        if len(values) < 2:
            raise SplitError(f"dev_folds 'predefined' needs >= 2 predefined dev folds, "
                             f"found {values.tolist()}")
        fold[dev] = np.searchsorted(values, np.asarray(predefined)[dev])
        k = len(values)
    else:
        k = cfg.n_folds
        fold[dev] = _grouped_folds(cohort.labels[dev], pid[dev], k, seed)
    fold[test] = TEST_FOLD
    check_split(pid, fold)
    return Split.make(fold, k, seed, cohort.record_id)
