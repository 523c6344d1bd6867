"""What the loader knows without running anything agrees with what the stages produce."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ensembler.config import RunConfig
from ensembler.config.data import BUILTIN_SUBGROUPS, PTBXL_TABULAR, SYNTHETIC_TABULAR
from ensembler.config.stacking import FIXED_STACKS, PRIMARY_STACK
from ensembler.data.load import source_table
from ensembler.pipeline.stack import TUNED


def test_stack_names_are_the_stacks_the_pipeline_fits() -> None:
    from stacking import named_stacks
    from tests.stacking.conftest import make_level1

    data, _ = make_level1(n_dev=60, n_test=20)
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
