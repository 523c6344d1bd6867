"""The level-1 data set: members' out-of-fold and per-fold test predictions, labels, folds."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["Level1Data"]


def _check_probs(name: str, arr: NDArray[np.floating], shape: tuple[int, ...]) -> None:
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf; probabilities must be finite")
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError(
            f"{name}: values must be probabilities in [0, 1], got range "
            f"[{arr.min():.4g}, {arr.max():.4g}]"
        )


@dataclass
class Level1Data:
    """Level-1 development and test data, as produced by K patient-grouped fold models.

    Attributes:
        members: base-model names, in a fixed order.
        class_names: C class names (C = 1 for a binary task).
        oof: member -> (N_dev, C) out-of-fold probabilities.
        test_by_fold: member -> (K, N_test, C) test probabilities of each fold model.
        y: (N_dev, C) labels in {0, 1}.
        groups: (N_dev,) patient ids; every patient lies in one fold only.
        folds: (N_dev,) int fold of each row, 0..K-1 (the base models' folds).
        tabular_dev: optional (N_dev, F) tabular features (NaN allowed).
        tabular_test: optional (N_test, F) tabular features.
        tabular_names: F names of the tabular columns.
        member_cost_ms: member -> inference milliseconds per ECG (for the Pareto mode).
    """

    members: list[str]
    class_names: list[str]
    oof: dict[str, NDArray[np.floating]]
    test_by_fold: dict[str, NDArray[np.floating]]
    y: NDArray[np.integer]
    groups: NDArray
    folds: NDArray[np.integer]
    tabular_dev: NDArray[np.floating] | None = None
    tabular_test: NDArray[np.floating] | None = None
    tabular_names: list[str] = field(default_factory=list)
    member_cost_ms: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_names()
        n = self._check_labels()
        k = self._check_groups_and_folds(n)
        n_test = self._check_predictions(n, k)
        self._check_tabular(n, n_test)
        unknown = set(self.member_cost_ms) - set(self.members)
        if unknown:
            raise ValueError(f"Level1Data.member_cost_ms: unknown members {sorted(unknown)}")

    def _check_names(self) -> None:
        self.members = list(self.members)
        self.class_names = list(self.class_names)
        if not self.members:
            raise ValueError("Level1Data.members: at least one member is required")
        if len(set(self.members)) != len(self.members):
            raise ValueError(f"Level1Data.members: duplicate names in {self.members}")
        if not self.class_names:
            raise ValueError("Level1Data.class_names: at least one class is required")

    def _check_labels(self) -> int:
        """Store ``y`` as (N_dev, C) int64 0/1 with both values in every class; returns N_dev."""
        c = len(self.class_names)
        y = np.asarray(self.y)
        if y.ndim == 1 and c == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[1] != c:
            raise ValueError(f"Level1Data.y: expected shape (N_dev, {c}), got {y.shape}")
        if not np.isin(y, (0, 1)).all():
            raise ValueError("Level1Data.y: labels must be 0 or 1")
        self.y = y.astype(np.int64)
        for j, name in enumerate(self.class_names):
            if self.y[:, j].min() == self.y[:, j].max():
                raise ValueError(
                    f"Level1Data.y: class {name!r} has only one label value in development "
                    "data; its AUC is undefined"
                )
        return int(y.shape[0])

    def _check_groups_and_folds(self, n: int) -> int:
        """Patient ids and folds 0..K-1 (K >= 2), each patient in one fold; returns K."""
        self.groups = np.asarray(self.groups)
        if self.groups.shape != (n,):
            raise ValueError(f"Level1Data.groups: expected shape ({n},), got {self.groups.shape}")
        folds = np.asarray(self.folds)
        if folds.shape != (n,) or not np.issubdtype(folds.dtype, np.integer):
            raise ValueError(
                f"Level1Data.folds: expected integer shape ({n},), got {folds.dtype} {folds.shape}"
            )
        k = int(folds.max()) + 1 if n else 0
        if folds.min() < 0 or set(np.unique(folds).tolist()) != set(range(k)) or k < 2:
            raise ValueError(
                "Level1Data.folds: expected every fold 0..K-1 (K >= 2) present, got "
                f"{sorted(np.unique(folds).tolist())}"
            )
        self.folds = folds.astype(np.int64)
        pairs = np.unique(np.stack([np.unique(self.groups, return_inverse=True)[1], folds]), axis=1)
        if pairs.shape[1] != len(np.unique(self.groups)):
            raise ValueError(
                "Level1Data.folds: some patient ids (groups) appear in more than one fold; "
                "the base folds must be patient-grouped"
            )
        return k

    def _check_predictions(self, n: int, k: int) -> int:
        """Every member's oof (N_dev, C) and test_by_fold (K, N_test, C); returns N_test."""
        missing = [m for m in self.members if m not in self.oof or m not in self.test_by_fold]
        if missing:
            raise ValueError(f"Level1Data: no oof/test_by_fold arrays for members {missing}")
        c = len(self.class_names)
        n_test = None
        for m in self.members:
            self.oof[m] = np.asarray(self.oof[m], dtype=np.float64)
            _check_probs(f"Level1Data.oof[{m!r}]", self.oof[m], (n, c))
            t = np.asarray(self.test_by_fold[m], dtype=np.float64)
            if t.ndim != 3:
                raise ValueError(
                    f"Level1Data.test_by_fold[{m!r}]: expected (K, N_test, C), got {t.shape}"
                )
            n_test = t.shape[1] if n_test is None else n_test
            _check_probs(f"Level1Data.test_by_fold[{m!r}]", t, (k, n_test, c))
            self.test_by_fold[m] = t
        return n_test or 0

    def _check_tabular(self, n: int, n_test: int) -> None:
        self.tabular_names = list(self.tabular_names)
        f = len(self.tabular_names)
        for name, arr, rows in (("tabular_dev", self.tabular_dev, n),
                                ("tabular_test", self.tabular_test, n_test)):
            if arr is None:
                continue
            a = np.asarray(arr, dtype=np.float64)
            if a.shape != (rows, f):
                raise ValueError(
                    f"Level1Data.{name}: expected shape ({rows}, {f}) to match tabular_names, "
                    f"got {a.shape}"
                )
            if np.isinf(a).any():
                raise ValueError(f"Level1Data.{name}: contains inf (NaN is allowed)")
            setattr(self, name, a)

    @property
    def n_folds(self) -> int:
        """K, the number of base folds."""
        return int(self.folds.max()) + 1

    @property
    def n_dev(self) -> int:
        return int(self.y.shape[0])

    def dev_subset(self, rows: NDArray[np.bool_]) -> Level1Data:
        """Development rows ``rows`` (boolean (N_dev,)) as a new Level1Data, folds renumbered.

        Used by nested CV; the test arrays of the subset are empty.
        """
        folds = self.folds[rows]
        remap = {f: i for i, f in enumerate(np.unique(folds).tolist())}
        c = len(self.class_names)
        return Level1Data(
            members=self.members,
            class_names=self.class_names,
            oof={m: self.oof[m][rows] for m in self.members},
            test_by_fold={m: np.zeros((len(remap), 0, c)) for m in self.members},
            y=self.y[rows],
            groups=self.groups[rows],
            folds=np.array([remap[f] for f in folds.tolist()], dtype=np.int64),
            tabular_dev=None if self.tabular_dev is None else self.tabular_dev[rows],
            tabular_names=self.tabular_names,
            member_cost_ms=self.member_cost_ms,
        )

    def with_members(self, members: list[str]) -> Level1Data:
        """The same rows, labels, folds and tabular columns with only ``members`` (in order).

        Used by the drop-one diversity panel, which reruns a study without one member.
        """
        unknown = [m for m in members if m not in self.members]
        if unknown:
            raise ValueError(f"Level1Data.with_members: unknown members {unknown}; "
                             f"have {self.members}")
        return Level1Data(
            members=list(members),
            class_names=self.class_names,
            oof={m: self.oof[m] for m in members},
            test_by_fold={m: self.test_by_fold[m] for m in members},
            y=self.y,
            groups=self.groups,
            folds=self.folds,
            tabular_dev=self.tabular_dev,
            tabular_test=self.tabular_test,
            tabular_names=self.tabular_names,
            member_cost_ms={m: c for m, c in self.member_cost_ms.items() if m in members},
        )
