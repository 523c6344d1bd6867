"""Split checks: no patient may appear in two folds, or in dev and test."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ensembler.errors import SplitError


def check_split(patient_id: np.ndarray, fold: np.ndarray) -> None:
    """Refuse a split in which any patient's records fall in more than one fold.

    Parameters
    ----------
    patient_id : ndarray (N,), patient of each record
    fold : ndarray (N,) int, 0..K-1 for dev folds, -1 for test

    Raises
    ------
    SplitError
        Naming up to 10 leaking patients and the folds they appear in.
    """
    pid, fold = np.asarray(patient_id), np.asarray(fold)
    if pid.shape != fold.shape or pid.ndim != 1:
        raise SplitError(f"patient_id {pid.shape} and fold {fold.shape} must be equal 1-D shapes")
    folds_per_patient = pd.Series(fold).groupby(pd.Series(pid.astype(str))).unique()
    leaking = folds_per_patient[folds_per_patient.map(len) > 1]
    if len(leaking):
        shown = "; ".join(
            f"{p}: {['test' if f == -1 else int(f) for f in sorted(fs)]}"
            for p, fs in list(leaking.items())[:10]
        )
        raise SplitError(f"{len(leaking)} patient(s) appear in more than one fold "
                         f"(dev/test leak): {shown}")
