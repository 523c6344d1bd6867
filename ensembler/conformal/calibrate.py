"""Per-class Mondrian split-conformal calibration for binary and multi-label tasks.

Each class ``c`` is its own binary conformal problem on the stack's calibrated
probability ``p_c``. Non-conformity of a candidate label: ``1 - p_c`` for label 1,
``p_c`` for label 0. The calibration is Mondrian by the true label, so the
guarantee holds separately for the ECGs with and without the condition:

    P(y_c in C_c(x) | y_c = l) >= 1 - alpha   for l in {0, 1}, every class c,

marginally over calibration and test draws, when calibration and test ECGs are
exchangeable. Nothing more: not per ECG across classes, not conditional on a
subgroup, and not under a shift between the development cohort and new data.

The p-values come from crepes (:class:`crepes.ConformalClassifier`, non-smoothed,
Mondrian bins = the true label). crepes was chosen over MAPIE because it works on
precomputed non-conformity scores (the stack's meta-level OOF probabilities are all
there is; MAPIE's classifiers wrap a fitted estimator) and takes Mondrian
categories directly. For a bundle, each (class, label) calibration is reduced to
the one number that decides crepes' sets, the largest score crepes still
includes (``None`` when every score is included), so the bundle stores JSON
quantiles and predicts without crepes; ``tests/conformal`` checks that the
quantiles reproduce crepes' sets exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ensembler.errors import EnsemblerError
from ensembler.evaluation._checks import as_groups, as_labels, as_probabilities

__all__ = [
    "ClassQuantiles",
    "ConformalCalibration",
    "ConformalError",
    "calibrate_conformal",
    "crepes_sets",
    "prediction_sets",
]

FORMAT_VERSION = 1


class ConformalError(EnsemblerError, ValueError):
    """Bad conformal input or a malformed stored calibration (the message names the field)."""


@dataclass(frozen=True)
class ClassQuantiles:
    """Calibrated thresholds of one class.

    A label enters the set when its non-conformity score is <= its quantile;
    ``None`` means every score is included (too few calibration rows of that
    label for ``alpha``: fewer than ``ceil(1 / alpha) - 1``).
    """

    name: str
    q_neg: float | None  # label 0 is in the set when p <= q_neg
    q_pos: float | None  # label 1 is in the set when 1 - p <= q_pos
    n_neg: int
    n_pos: int


@dataclass(frozen=True)
class ConformalCalibration:
    """Per-class Mondrian conformal calibration (what a bundle stores as JSON)."""

    alpha: float
    classes: list[ClassQuantiles]
    n_records: int
    n_patients: int
    source: str  # what the scores were, e.g. the stack's meta-level OOF
    library: str = field(default="")
    format_version: int = FORMAT_VERSION

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def provenance(self) -> str:
        return (f"calibrated on {self.source} of {self.n_patients} development patients "
                f"({self.n_records} records), alpha = {self.alpha:g}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: Any, where: str = "conformal.json") -> ConformalCalibration:
        """Rebuild from :meth:`to_dict`; every malformed field is named in the error."""
        if not isinstance(doc, dict):
            raise ConformalError(f"{where}: expected a JSON object")
        if doc.get("format_version") != FORMAT_VERSION:
            raise ConformalError(f"{where}: format_version {doc.get('format_version')!r}, "
                                 f"expected {FORMAT_VERSION}")
        alpha = doc.get("alpha")
        if not isinstance(alpha, int | float) or not 0.0 < float(alpha) < 1.0:
            raise ConformalError(f"{where}: alpha must be a number in (0, 1), got {alpha!r}")
        rows = doc.get("classes")
        if not isinstance(rows, list) or not rows:
            raise ConformalError(f"{where}: classes must be a non-empty list")
        classes = [_class_from_dict(r, f"{where}: classes[{i}]") for i, r in enumerate(rows)]
        for key in ("n_records", "n_patients"):
            if not isinstance(doc.get(key), int):
                raise ConformalError(f"{where}: {key} must be an integer")
        return cls(alpha=float(alpha), classes=classes, n_records=doc["n_records"],
                   n_patients=doc["n_patients"], source=str(doc.get("source", "")),
                   library=str(doc.get("library", "")))


def _class_from_dict(row: Any, where: str) -> ClassQuantiles:
    if not isinstance(row, dict) or not isinstance(row.get("name"), str):
        raise ConformalError(f"{where}: expected an object with a 'name'")
    out: dict[str, float | None] = {}
    for key in ("q_neg", "q_pos"):
        v = row.get(key)
        if v is not None and (not isinstance(v, int | float) or not np.isfinite(v)):
            raise ConformalError(f"{where}.{key}: expected a finite number or null, got {v!r}")
        out[key] = None if v is None else float(v)
    for key in ("n_neg", "n_pos"):
        if not isinstance(row.get(key), int) or row[key] < 0:
            raise ConformalError(f"{where}.{key}: expected a count >= 0")
    return ClassQuantiles(row["name"], out["q_neg"], out["q_pos"], row["n_neg"], row["n_pos"])


def _check_alpha(alpha: float) -> float:
    if not isinstance(alpha, int | float) or not 0.0 < float(alpha) < 1.0:
        raise ConformalError(f"alpha: expected a target error rate in (0, 1), got {alpha!r}")
    return float(alpha)


def _scores(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N, C, 2) non-conformity of label 0 (``p``) and label 1 (``1 - p``)."""
    return np.stack([p, 1.0 - p], axis=-1)


def _crepes_quantile(cal: NDArray[np.float64], alpha: float) -> float | None:
    """Largest score crepes includes at confidence ``1 - alpha`` (None: all scores)."""
    from crepes import ConformalClassifier

    if cal.size == 0:
        return None
    cc = ConformalClassifier().fit(cal)
    cand = np.unique(cal)
    above = np.array([cand[-1] + 1.0])  # a score above every calibration score
    if cc.predict_set(above[:, None], confidence=1.0 - alpha, smoothing=False)[0, 0]:
        return None
    inside = cc.predict_set(cand[:, None], confidence=1.0 - alpha, smoothing=False)[:, 0]
    # crepes' p-value is non-increasing in the score, so the included scores are a
    # prefix; the smallest calibration score has p-value 1 and is always in it
    return float(cand[inside.astype(bool)].max())


def calibrate_conformal(
    p: ArrayLike,
    y: ArrayLike,
    groups: ArrayLike,
    alpha: float,
    class_names: list[str],
    source: str = "the stack's meta-level out-of-fold probabilities",
) -> ConformalCalibration:
    """Fit per-class Mondrian split-conformal quantiles.

    Parameters
    ----------
    p : (N, C) calibrated probabilities on the calibration rows (development only).
    y : (N, C) {0,1} labels of the same rows; groups : (N,) patient ids.
    alpha : target miscoverage per class and label, in (0, 1).
    class_names : C names.
    """
    import crepes

    a = _check_alpha(alpha)
    yy = as_labels(y)
    pp = as_probabilities(p, yy.shape[0], yy.shape[1])
    codes = as_groups(groups, yy.shape[0])
    if len(class_names) != yy.shape[1]:
        raise ConformalError(f"class_names: expected {yy.shape[1]} names, got {len(class_names)}")
    scores = _scores(pp)
    rows = []
    for c, name in enumerate(class_names):
        neg, pos = yy[:, c] == 0, yy[:, c] == 1
        q0 = _crepes_quantile(scores[neg, c, 0], a)
        q1 = _crepes_quantile(scores[pos, c, 1], a)
        rows.append(ClassQuantiles(name, q0, q1, int(neg.sum()), int(pos.sum())))
    return ConformalCalibration(alpha=a, classes=rows, n_records=int(yy.shape[0]),
                                n_patients=int(codes.max()) + 1, source=source,
                                library=f"crepes {crepes.__version__}")


def prediction_sets(calib: ConformalCalibration, p: ArrayLike) -> NDArray[np.bool_]:
    """(N, C, 2) membership: ``[..., 0]`` label 0 in the set, ``[..., 1]`` label 1 in it.

    Parameters
    ----------
    p : (N, C) calibrated probabilities of the same stack, classes in calibration order.
    """
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    pp = as_probabilities(arr, arr.shape[0], len(calib.classes))
    scores = _scores(pp)
    q = np.array([[np.inf if c.q_neg is None else c.q_neg,
                   np.inf if c.q_pos is None else c.q_pos] for c in calib.classes])
    return np.asarray(scores <= q[None, :, :])


def crepes_sets(p_cal: ArrayLike, y_cal: ArrayLike, p: ArrayLike,
                alpha: float) -> NDArray[np.bool_]:
    """(N, C, 2) sets straight from crepes (Mondrian by true label), for cross-checks."""
    from crepes import ConformalClassifier

    yy = as_labels(y_cal)
    pc = _scores(as_probabilities(p_cal, yy.shape[0], yy.shape[1]))
    pt = _scores(np.asarray(p, dtype=np.float64).reshape(-1, yy.shape[1]))
    out = np.zeros(pt.shape, dtype=bool)
    for c in range(yy.shape[1]):
        cal = np.where(yy[:, c] == 1, pc[:, c, 1], pc[:, c, 0])
        cc = ConformalClassifier().fit(cal, bins=yy[:, c])
        for label in (0, 1):
            if not (yy[:, c] == label).any():
                out[:, c, label] = True  # no calibration row of this label: no information
                continue
            bins = np.full(pt.shape[0], label)
            got = cc.predict_set(pt[:, c, label][:, None], bins=bins,
                                 confidence=1.0 - alpha, smoothing=False)
            out[:, c, label] = np.asarray(got)[:, 0].astype(bool)
    return out
