"""Every architecture family produces OOF and test predictions through the runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from toydata import make_cohort, make_split

from ensembler.config import RunConfig
from ensembler.training.runner import member_specs, train_members

TINY = {
    "cnn1d": {"filters": [8, 8, 8]},
    "resnet1d": {"width": 8},
    "xresnet1d18": {"widen": 0.25},
    "inception1d": {"filters": 4, "bottleneck": 4, "depth": 3},
    "cnn_lstm": {"conv_channels": [8, 8, 8], "hidden": 8},
    "vit1d": {"patch_size": 10, "dim": 16, "depth": 1, "heads": 2},
    "ts_cnn": {"slice_length": 50, "width": 8},
    "s4d": {"d_model": 8, "n_layers": 1, "d_state": 8},
}


# One cheap family stays in the fast loop; the rest run in the full suite (make test).
FAST = {"ts_cnn"}


@pytest.mark.parametrize("arch", [a if a in FAST else pytest.param(a, marks=pytest.mark.slow)
                                  for a in sorted(TINY)])
def test_family_trains_out_of_fold(tmp_path: Path, arch: str) -> None:
    cohort = make_cohort(n_patients=24, per_patient=2, samples=200)
    split = make_split(cohort, k=2, test_patients=4)
    cfg = RunConfig.model_validate({
        "seed": 1,
        "training": {"epochs": 1, "batch_size": 16, "crop_s": 1.0, "inner_val_fraction": 0.25,
                     "n_jobs": 1, "backend": "sequential"},
        "models": [{"name": "m", "arch": arch, "params": TINY[arch], "fusion": "late"}],
    })
    out = train_members(cfg, cohort, split, tmp_path, member_specs(cfg, cohort), verbose=False)
    p = out.predictions["m"]
    assert p.oof.shape == (int((split.fold >= 0).sum()), 1)
    assert p.test_by_fold.shape == (2, int((split.fold == -1).sum()), 1)
    assert np.all(np.isfinite(p.oof)) and np.all((p.oof > 0) & (p.oof < 1))
