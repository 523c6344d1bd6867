"""Per-fold preprocessing state, fitted on the fold's training part only.

Travels with the fold model as JSON (never pickled).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass
class FoldState:
    """Signal scaling per lead and tabular standardisation, fitted on training rows.

    Attributes
    ----------
    signal_mean, signal_std : list of float, length n_leads
    tabular_names : list of str, length F
    tabular_mean, tabular_std : list of float, length F (NaN-aware fits)
    """

    signal_mean: list[float]
    signal_std: list[float]
    tabular_names: list[str]
    tabular_mean: list[float]
    tabular_std: list[float]

    @classmethod
    def fit(
        cls,
        signals: np.ndarray,
        tabular: np.ndarray | None,
        tabular_names: list[str],
        max_records: int = 2000,
        seed: int = 0,
        rows: np.ndarray | None = None,
    ) -> FoldState:
        """Fit on ``signals`` (n, leads, samples) and ``tabular`` (n, F) of the training part.

        With ``rows`` (sorted unique indices), the signal scaling is fitted on
        ``signals[rows]`` without copying those records: only the sampled ones are read.
        ``tabular`` is then already ``tabular[rows]``.
        """
        n = signals.shape[0] if rows is None else len(rows)
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(n, size=min(n, max_records), replace=False))
        sample = np.asarray(signals[idx if rows is None else rows[idx]], dtype=np.float32)
        mean = sample.mean(axis=(0, 2), dtype=np.float64)
        std = sample.std(axis=(0, 2), dtype=np.float64)
        std = np.where(std > 1e-6, std, 1.0)
        if tabular is not None and tabular.size and tabular_names:
            tab = np.asarray(tabular, dtype=np.float64)
            with warnings.catch_warnings():  # all-NaN columns: mean 0, std 1
                warnings.simplefilter("ignore", RuntimeWarning)
                t_mean = np.nanmean(tab, axis=0)
                t_std = np.nanstd(tab, axis=0)
            t_mean = np.where(np.isfinite(t_mean), t_mean, 0.0)
            t_std = np.where(np.isfinite(t_std) & (t_std > 1e-9), t_std, 1.0)
        else:
            t_mean = np.zeros(0)
            t_std = np.zeros(0)
        return cls(
            signal_mean=[float(v) for v in mean],
            signal_std=[float(v) for v in std],
            tabular_names=list(tabular_names) if t_mean.size else [],
            tabular_mean=[float(v) for v in t_mean],
            tabular_std=[float(v) for v in t_std],
        )

    def transform_signals(self, x: np.ndarray) -> np.ndarray:
        """(n, leads, samples) -> standardised float32 copy."""
        mean = np.asarray(self.signal_mean, np.float32)[None, :, None]
        std = np.asarray(self.signal_std, np.float32)[None, :, None]
        return ((np.asarray(x, np.float32) - mean) / std).astype(np.float32, copy=False)

    def transform_tabular(self, t: np.ndarray | None) -> np.ndarray | None:
        """(n, F) -> standardised float32; NaN stays NaN (the model adds missing flags)."""
        if t is None or not self.tabular_names:
            return None
        mean = np.asarray(self.tabular_mean, np.float32)
        std = np.asarray(self.tabular_std, np.float32)
        return ((np.asarray(t, np.float32) - mean) / std).astype(np.float32)

    def to_json(self, path: str | Path) -> None:
        from ensembler.utils.atomic import write_json

        write_json(path, asdict(self))

    @classmethod
    def from_json(cls, path: str | Path) -> FoldState:
        return cls(**json.loads(Path(path).read_text()))
