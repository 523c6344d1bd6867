"""What the loader knows without running anything agrees with what the stages produce."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ensembler.config import RunConfig
from ensembler.config.data import BUILTIN_SUBGROUPS, PTBXL_TABULAR, SYNTHETIC_TABULAR
from ensembler.config.stacking import FIXED_STACKS, PRIMARY_STACK
from ensembler.data.load import source_table
from ensembler.pipeline.stack import TUNED


def test_stack_names_are_the_stacks_the_pipeline_fits() -> None:
    from stacking import Level1Data, named_stacks

    rng = np.random.default_rng(0)
    y = np.array([[0], [1]] * 20)
    data = Level1Data(
        members=["a", "b"], class_names=["y"],
        oof={m: rng.random((40, 1)) for m in "ab"},
        test_by_fold={m: rng.random((2, 10, 1)) for m in "ab"},
        y=y, groups=np.arange(40), folds=np.arange(40) % 2,
    )
    assert tuple(named_stacks(data)) == FIXED_STACKS
    names = RunConfig().stacking.stack_names()
    assert names == [*FIXED_STACKS, *TUNED] and names[-1] == PRIMARY_STACK
    only_mean = RunConfig.model_validate({"stacking": {"learners": ["mean"]}})
    assert only_mean.stacking.stack_names() == [*FIXED_STACKS, PRIMARY_STACK]


def test_synthetic_source_columns(tmp_path: Path) -> None:
    cfg = RunConfig.model_validate({"data": {"synthetic": {
        "n_patients": 4, "ecgs_per_patient": [1, 1], "duration_s": 2.0}}})
    table = source_table(cfg, tmp_path)
    assert tuple(table.tabular_names) == SYNTHETIC_TABULAR == tuple(cfg.data.source_tabular())
    assert tuple(table.subgroups.columns) == BUILTIN_SUBGROUPS


@pytest.mark.skipif(not os.environ.get("ENSEMBLER_PTBXL_DIR"), reason="needs PTB-XL")
def test_ptbxl_source_columns() -> None:
    cfg = RunConfig.model_validate({"data": {"source": "ptbxl"}})
    table = source_table(cfg, Path("unused"))
    assert tuple(table.tabular_names) == PTBXL_TABULAR
    assert tuple(table.subgroups.columns) == BUILTIN_SUBGROUPS
