"""Which entries are tuned: one rule for `ensembler run` and `ensembler tune`."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from ensembler.config import config_from_dict
from ensembler.errors import ConfigError
from ensembler.pipeline import run as run_module
from ensembler.tuning.entries import entries_to_tune

MODELS = [{"name": "cnn", "arch": "cnn1d"}, {"name": "ts", "arch": "ts_cnn"}]


def _cfg(**tuning: Any) -> Any:
    return config_from_dict({"models": MODELS, "tuning": tuning})


def test_empty_archs_means_every_entry() -> None:
    assert entries_to_tune(_cfg(enabled=True, archs=[])) == ["cnn", "ts"]
    assert entries_to_tune(_cfg(archs=["ts"])) == ["ts"]
    assert entries_to_tune(_cfg(archs=["ts"]), ["cnn"]) == ["cnn"]  # --arch wins
    with pytest.raises(ConfigError, match=r"--arch: unknown model entries 'vit'; entries: cnn"):
        entries_to_tune(_cfg(), ["vit"])


class _Stop(Exception):
    pass


class _Cohort:
    """Just what run_all prints about the cohort before the tuning stage."""

    patient_id = np.arange(4)
    class_names = ("y",)

    def __len__(self) -> int:
        return 4


@pytest.mark.parametrize(("archs", "expected"), [([], ["cnn", "ts"]), (["ts"], ["ts"])])
def test_run_tunes_what_tune_would(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   archs: list[str], expected: list[str]) -> None:
    """`ensembler run` with tuning enabled tunes the same entries as `ensembler tune`."""
    tuned: list[str] = []
    monkeypatch.setattr(run_module, "_tune", lambda ctx, names: tuned.extend(names))

    def stop(ctx: Any) -> None:
        raise _Stop

    monkeypatch.setattr("ensembler.pipeline.train.run_training", stop)
    split = SimpleNamespace(fold=np.array([0, 1, -1, -1]), n_folds=2)
    ctx = SimpleNamespace(cfg=_cfg(enabled=True, archs=archs), run_dir=tmp_path,
                          cohort=_Cohort(), split=split, progress=False)
    with pytest.raises(_Stop):
        run_module.run_all(ctx, Console(quiet=True))  # type: ignore[arg-type]
    assert tuned == expected == entries_to_tune(ctx.cfg)
