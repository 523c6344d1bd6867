"""A real tiny run (synthetic WFDB cohort -> trainer -> stacking stage) built once per session.

The bundle tests export from it, so they exercise the real run-directory contracts:
``base/<member>/fold_<k>/``, ``predictions/``, ``stack/<name>/`` and ``operating.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ensembler.config import RunConfig
from ensembler.data.cohort import Cohort
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.stack import level1_data, load_fitted, load_member_predictions, run_stacking
from ensembler.pipeline.train import run_training


def tiny_run_config(run_dir: Path) -> RunConfig:
    return RunConfig.model_validate({
        "name": "bundle-test", "seed": 3, "run_dir": str(run_dir),
        "data": {"source": "synthetic",
                 "synthetic": {"n_patients": 40, "ecgs_per_patient": [1, 2],
                               "n_test_patients": 12, "duration_s": 2.5},
                 "preprocessing": {"fs": 100, "duration_s": 2.5}},
        "split": {"n_folds": 2, "test": "predefined", "duplicate_check": "off"},
        "training": {"epochs": 1, "batch_size": 32, "crop_s": 1.0, "n_jobs": 1,
                     "backend": "sequential", "refit_full": True, "device": "cpu"},
        "models": [
            {"name": "cnn", "arch": "cnn1d", "params": {"filters": [8, 8, 8]}},
            {"name": "fused", "arch": "cnn1d", "params": {"filters": [8, 8, 8]},
             "fusion": "intermediate"},
        ],
        "stacking": {"trials": 2, "learners": ["logistic", "mean"],
                     "calibration": ["none", "platt"], "nested_cv": False},
        "report": {"n_bootstrap": 100, "latency_repeats": 3},
    })


@dataclass
class TinyRun:
    run_dir: Path
    cfg: RunConfig
    cohort: Cohort
    fold: np.ndarray  # split fold vector (N,)
    stack_name: str
    stacked_test: np.ndarray  # the pipeline's own stacked test predictions (N_test, C)
    test_rows: np.ndarray
    record_dir: Path  # folder of the synthetic WFDB records


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    run_dir = tmp_path_factory.mktemp("bundle") / "run"
    cfg = tiny_run_config(run_dir)
    ctx = RunContext.create(cfg, run_dir, progress=False)
    run_training(ctx)
    stage = run_stacking(ctx)
    preds = load_member_predictions(ctx)
    data = level1_data(ctx, preds)
    fitted = load_fitted(run_dir, stage.selected)
    stacked = fitted.predict_test({m: data.test_by_fold[m] for m in fitted.spec.members},
                                  data.tabular_test)
    record_dirs = sorted((run_dir / "cohort" / "synthetic").iterdir())
    return TinyRun(run_dir=run_dir, cfg=cfg, cohort=ctx.cohort, fold=np.asarray(ctx.split.fold),
                   stack_name=stage.selected, stacked_test=stacked,
                   test_rows=np.flatnonzero(ctx.split.fold == -1), record_dir=record_dirs[0])


@pytest.fixture(scope="session")
def ten_second_records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few synthetic 10 s / 100 Hz WFDB records (``records/*.hea``) for the screening tests."""
    from ensembler.config import SyntheticConfig
    from ensembler.data.synth.writer import write_synthetic

    out = tmp_path_factory.mktemp("ten_s") / "syn"
    write_synthetic(SyntheticConfig(n_patients=8, ecgs_per_patient=(1, 1), fs=100,
                                    duration_s=10, paced_fraction=0.0), 7, out)
    return out / "records"
