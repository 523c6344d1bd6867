"""Probability calibration (none / Platt / isotonic / temperature) chosen by CV log-loss.

Calibrators are per class and serialise to JSON (Platt coefficients, isotonic
knots, temperature). Calibration is chosen after the AUC search, on out-of-fold
predictions, by cross-validated log-loss over the same patient folds. It is not
rank-neutral: isotonic maps score ranges to one value (ties change AUC), and
calibrating each fold's scores before averaging them changes the averaged order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from stacking.metrics import binary_log_loss
from stacking.names import CALIBRATION_METHODS

__all__ = [
    "CALIBRATION_METHODS",
    "CalibrationChoice",
    "Calibrator",
    "calibrate_member",
    "choose_calibration",
]

_EPS = 1e-6


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    return logit(np.clip(p, _EPS, 1.0 - _EPS))


def _fit_one(method: str, p: NDArray[np.float64], y: NDArray[np.float64]) -> dict[str, Any]:
    """Fit one class's calibrator on (n,) scores ``p`` and (n,) labels ``y``."""
    if method == "none" or np.unique(y).size < 2:
        return {}
    if method == "platt":
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p)[:, None], y)
        return {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=_EPS, y_max=1.0 - _EPS).fit(p, y)
        return {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    if method == "temperature":
        z = _logit(p)
        res = minimize_scalar(lambda log_t: binary_log_loss(y, expit(z / np.exp(log_t))),
                              bounds=(-4.0, 4.0), method="bounded")
        return {"t": float(np.exp(res.x))}
    raise ValueError(f"unknown calibration method {method!r}; valid: {CALIBRATION_METHODS}")


def _apply_one(method: str, params: dict[str, Any], p: NDArray[np.float64]) -> NDArray[np.float64]:
    if method == "none" or not params:
        return np.clip(p, 0.0, 1.0)
    if method == "platt":
        return expit(params["a"] * _logit(p) + params["b"])
    if method == "isotonic":
        return np.interp(p, params["x"], params["y"])
    return expit(_logit(p) / params["t"])


@dataclass
class Calibrator:
    """Per-class calibration map; ``params[j]`` holds class j's coefficients."""

    method: str
    params: list[dict[str, Any]]

    @classmethod
    def fit(cls, method: str, p: NDArray[np.floating], y: NDArray) -> Calibrator:
        """Fit on (N, C) scores and (N, C) {0,1} labels."""
        if method not in CALIBRATION_METHODS:
            raise ValueError(f"unknown calibration method {method!r}; valid: {CALIBRATION_METHODS}")
        p2, y2 = _as2d(p), _as2d(y).astype(np.float64)
        return cls(method, [_fit_one(method, p2[:, j], y2[:, j]) for j in range(p2.shape[1])])

    def transform(self, p: NDArray[np.floating]) -> NDArray[np.float64]:
        """Calibrate (N, C) scores to (N, C) probabilities."""
        p2 = _as2d(p)
        if p2.shape[1] != len(self.params):
            raise ValueError(f"Calibrator: expected {len(self.params)} classes, got {p2.shape[1]}")
        return np.column_stack([_apply_one(self.method, self.params[j], p2[:, j])
                                for j in range(p2.shape[1])])

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        return cls(method=str(d["method"]), params=list(d["params"]))


def _as2d(a: NDArray) -> NDArray[np.float64]:
    a = np.asarray(a, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a


@dataclass
class CalibrationChoice:
    """Result of :func:`choose_calibration`.

    Attributes:
        method: the chosen method.
        calibrator: that method fitted on all rows.
        scores: method -> cross-validated log-loss (mean over classes).
        oof: (N, C) cross-fitted calibrated probabilities (each fold's rows
            calibrated by a map fitted on the other folds).
    """

    method: str
    calibrator: Calibrator
    scores: dict[str, float]
    oof: NDArray[np.float64]


def choose_calibration(
    oof: NDArray[np.floating],
    y: NDArray,
    folds: NDArray[np.integer],
    methods: Sequence[str] = CALIBRATION_METHODS,
) -> CalibrationChoice:
    """Pick the calibration of (N, C) OOF scores by cross-validated log-loss.

    Args:
        oof: (N, C) out-of-fold scores in [0, 1].
        y: (N, C) {0,1} labels.
        folds: (N,) patient-grouped fold of each row (the base folds).
        methods: candidate methods (subset of ``CALIBRATION_METHODS``).
    """
    p, yy = _as2d(oof), _as2d(y)
    folds = np.asarray(folds)
    if p.shape != yy.shape or folds.shape != (p.shape[0],):
        raise ValueError(f"choose_calibration: oof {p.shape}, y {yy.shape} and folds "
                         f"{folds.shape} must agree as (N, C), (N, C), (N,)")
    if not methods:
        raise ValueError("choose_calibration: at least one method is required")
    scores: dict[str, float] = {}
    cross: dict[str, NDArray[np.float64]] = {}
    for method in methods:
        out = np.empty_like(p)
        for k in np.unique(folds):
            te = folds == k
            out[te] = Calibrator.fit(method, p[~te], yy[~te]).transform(p[te])
        cross[method] = out
        scores[method] = binary_log_loss(yy, out)
    best = min(scores, key=lambda m: (scores[m], list(methods).index(m)))
    return CalibrationChoice(best, Calibrator.fit(best, p, yy), scores, cross[best])


def calibrate_member(
    oof: NDArray[np.floating],
    y: NDArray,
    folds: NDArray[np.integer],
    test: NDArray[np.floating] | None = None,
    methods: Sequence[str] = CALIBRATION_METHODS,
) -> tuple[CalibrationChoice, NDArray[np.float64] | None]:
    """Calibrate one member exactly as a stack is calibrated (for a fair comparison).

    Returns the choice (with cross-fitted calibrated OOF in ``choice.oof``) and
    ``test`` ((N_test, C) or (K, N_test, C)) mapped by the calibrator fitted on all OOF.
    """
    choice = choose_calibration(oof, y, folds, methods)
    if test is None:
        return choice, None
    t = np.asarray(test, dtype=np.float64)
    if t.ndim == 3:
        return choice, np.stack([choice.calibrator.transform(tk) for tk in t])
    return choice, choice.calibrator.transform(t)
