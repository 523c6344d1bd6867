"""A tiny in-memory cohort, split and config for trainer tests (no disk, no data layer).

Imported by tests as ``from toydata import ...`` (pytest puts tests/ on sys.path)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ensembler.config import RunConfig
from ensembler.data.cohort import Cohort


def make_cohort(n_patients: int = 48, per_patient: int = 2, n_classes: int = 1,
                samples: int = 250, seed: int = 0) -> Cohort:
    """Records whose label shows as a 5 Hz burst amplitude in some leads, plus noise."""
    rng = np.random.default_rng(seed)
    n = n_patients * per_patient
    pid = np.repeat([f"p{i:03d}" for i in range(n_patients)], per_patient)
    labels = (rng.random((n_patients, n_classes)) < 0.4).astype(np.uint8)
    labels = np.repeat(labels, per_patient, axis=0)
    t = np.arange(samples) / 100.0
    x = rng.normal(0, 0.3, size=(n, 12, samples)).astype(np.float32)
    for c in range(n_classes):
        amp = labels[:, c].astype(np.float32)[:, None] * 1.0
        x[:, c % 12] += amp * np.sin(2 * np.pi * 5 * t)[None, :].astype(np.float32)
    age = rng.normal(60, 10, size=n).astype(np.float32)
    age[rng.random(n) < 0.2] = np.nan
    sex = rng.integers(0, 2, size=n).astype(np.float32)
    return Cohort(
        signals=x,
        labels=labels,
        class_names=[f"C{c}" for c in range(n_classes)] if n_classes > 1 else ["COND"],
        patient_id=pid,
        record_id=np.array([f"r{i:04d}" for i in range(n)]),
        fs=100.0,
        tabular=np.stack([age, sex], axis=1),
        tabular_names=["age", "sex"],
        subgroups=pd.DataFrame({"sex": sex}),
        fingerprint=f"toy-{n_patients}-{per_patient}-{n_classes}-{seed}",
    )


@dataclass
class ToySplit:
    fold: np.ndarray
    n_folds: int
    fingerprint: str


def make_split(cohort: Cohort, k: int = 3, test_patients: int = 8, seed: int = 0) -> ToySplit:
    rng = np.random.default_rng(seed)
    patients = np.unique(cohort.patient_id)
    rng.shuffle(patients)
    fold_of = {p: -1 for p in patients[:test_patients]}
    for i, p in enumerate(patients[test_patients:]):
        fold_of[p] = i % k
    fold = np.array([fold_of[p] for p in cohort.patient_id])
    return ToySplit(fold=fold, n_folds=k, fingerprint=f"split-{k}-{seed}")


def tiny_config(**training: object) -> RunConfig:
    base = {
        "epochs": 2, "batch_size": 16, "crop_s": 1.0, "patience": 2,
        "inner_val_fraction": 0.25, "n_jobs": 1, "backend": "sequential",
    }
    base.update(training)
    return RunConfig.model_validate({
        "name": "toy", "seed": 7,
        "training": base,
        "models": [{"name": "cnn", "arch": "cnn1d", "params": {"filters": [16, 16, 16]}}],
    })
