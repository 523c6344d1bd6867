"""The level-1 predictions contract: ``predictions/<name>.npz`` + ``<name>.json``.

Keys of the npz:
- ``oof`` (N_dev, C): each development row predicted by the fold model that did not see it
- ``test`` (N_test, C): mean of ``test_by_fold`` over folds
- ``test_by_fold`` (K, N_test, C): each fold model's own test predictions
- ``dev_record_id`` (N_dev,), ``test_record_id`` (N_test,), ``fold`` (N_dev,) 0..K-1
- ``class_names`` (C,)
- optional ``test_refit`` (N_test, C): the refit-full model's test predictions
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ensembler.errors import PredictionsError
from ensembler.training.member_meta import MemberMeta
from ensembler.utils.atomic import save_npz, write_json

REQUIRED = ("oof", "test", "test_by_fold", "dev_record_id", "test_record_id", "fold",
            "class_names")


@dataclass
class MemberPredictions:
    name: str
    oof: np.ndarray
    test_by_fold: np.ndarray
    dev_record_id: np.ndarray
    test_record_id: np.ndarray
    fold: np.ndarray
    class_names: list[str]
    test_refit: np.ndarray | None = None
    meta: MemberMeta = field(default_factory=lambda: MemberMeta(member=""))

    def __post_init__(self) -> None:
        if not self.meta.member:
            self.meta.member = self.name

    @property
    def test(self) -> np.ndarray:
        return self.test_by_fold.mean(axis=0)

    def validate(self) -> None:
        """Shapes, ranges and fold consistency; raises PredictionsError naming the member."""
        n_dev, c = self.oof.shape if self.oof.ndim == 2 else (-1, -1)
        k = int(self.fold.max()) + 1 if self.fold.size else 0
        problems = []
        if self.oof.ndim != 2 or c != len(self.class_names):
            problems.append(f"oof must be (N_dev, {len(self.class_names)}), got {self.oof.shape}")
        if self.test_by_fold.ndim != 3 or self.test_by_fold.shape[0] != k:
            problems.append(f"test_by_fold must be ({k}, N_test, C), got {self.test_by_fold.shape}")
        elif self.test_by_fold.shape[1:] != (len(self.test_record_id), c):
            problems.append("test_by_fold rows/classes disagree with test_record_id/class_names")
        if len(self.dev_record_id) != n_dev or len(self.fold) != n_dev:
            problems.append("dev_record_id/fold length differs from oof rows")
        for key, arr in (("oof", self.oof), ("test_by_fold", self.test_by_fold)):
            if not np.all(np.isfinite(arr)):
                problems.append(f"{key} has NaN/inf (a missing row is an error, never filled)")
            elif arr.size and (arr.min() < 0 or arr.max() > 1):
                problems.append(f"{key} outside [0, 1]: these must be probabilities")
        if problems:
            raise PredictionsError(f"predictions of member {self.name!r}: " + "; ".join(problems))

    def save(self, folder: str | Path) -> Path:
        self.validate()
        folder = Path(folder)
        arrays = dict(
            oof=self.oof.astype(np.float32),
            test=self.test.astype(np.float32),
            test_by_fold=self.test_by_fold.astype(np.float32),
            dev_record_id=self.dev_record_id.astype(str),
            test_record_id=self.test_record_id.astype(str),
            fold=self.fold.astype(np.int64),
            class_names=np.asarray(self.class_names, dtype=str),
        )
        if self.test_refit is not None:
            arrays["test_refit"] = self.test_refit.astype(np.float32)
        save_npz(folder / f"{self.name}.npz", **arrays)
        write_json(folder / f"{self.name}.json", self.meta.to_json_dict())
        return folder / f"{self.name}.npz"

    @classmethod
    def load(cls, path: str | Path, name: str | None = None) -> MemberPredictions:
        p = Path(path)
        if not p.is_file():
            raise PredictionsError(f"predictions file not found: {p}")
        try:
            with np.load(p, allow_pickle=False) as z:
                missing = [k for k in REQUIRED if k not in z.files]
                if missing:
                    raise PredictionsError(f"{p}: missing arrays {missing}; expected {REQUIRED}")
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            if isinstance(exc, PredictionsError):
                raise
            raise PredictionsError(f"{p}: not a readable .npz predictions file ({exc})") from None
        meta_path = p.with_suffix(".json")
        meta = (MemberMeta.from_json_dict(json.loads(meta_path.read_text()), str(meta_path))
                if meta_path.is_file() else MemberMeta(member=name or p.stem))
        preds = cls(
            name=name or p.stem,
            oof=data["oof"].astype(np.float64),
            test_by_fold=data["test_by_fold"].astype(np.float64),
            dev_record_id=data["dev_record_id"].astype(str),
            test_record_id=data["test_record_id"].astype(str),
            fold=data["fold"].astype(np.int64),
            class_names=[str(c) for c in data["class_names"]],
            test_refit=data["test_refit"].astype(np.float64) if "test_refit" in data else None,
            meta=meta,
        )
        preds.validate()
        return preds


def assemble_oof(
    name: str, n_dev: int, fold_rows: dict[int, np.ndarray], fold_preds: dict[int, np.ndarray]
) -> np.ndarray:
    """Place each fold's predictions at its rows, counting: each row exactly once.

    Raises PredictionsError when a row is predicted zero times or more than once;
    missing rows are never filled in.
    """
    c = next(iter(fold_preds.values())).shape[1]
    oof = np.full((n_dev, c), np.nan)
    count = np.zeros(n_dev, dtype=np.int64)
    for k, rows in fold_rows.items():
        if len(rows) != len(fold_preds[k]):
            raise PredictionsError(
                f"member {name!r} fold {k}: {len(fold_preds[k])} predictions for {len(rows)} rows"
            )
        oof[rows] = fold_preds[k]
        np.add.at(count, rows, 1)
    if not np.all(count == 1):
        bad = np.flatnonzero(count != 1)
        raise PredictionsError(
            f"member {name!r}: {len(bad)} development rows predicted {sorted(set(count[bad]))} "
            f"times instead of exactly once (first rows: {bad[:5].tolist()})"
        )
    return oof


def load_all(folder: str | Path) -> dict[str, MemberPredictions]:
    """Every ``*.npz`` in ``folder`` keyed by member name (sorted); hidden names (leftovers
    of an interrupted atomic write) are ignored."""
    return {p.stem: MemberPredictions.load(p) for p in sorted(Path(folder).glob("*.npz"))
            if not p.name.startswith(".")}
