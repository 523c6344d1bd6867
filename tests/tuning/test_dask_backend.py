"""OOF jobs through Dask on a LocalCluster give the same predictions as loky."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from toydata import make_cohort, make_split, tiny_config

from ensembler.training.runner import member_specs, train_members


@pytest.mark.slow
def test_dask_local_cluster_matches_loky(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    cohort = make_cohort(n_patients=36)
    split = make_split(cohort, k=2, test_patients=6)
    loky_cfg = tiny_config(epochs=1, n_jobs=2, threads_per_job=1, backend="loky")
    loky = train_members(loky_cfg, cohort, split, tmp_path / "loky",
                         member_specs(loky_cfg, cohort), verbose=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        dask_cfg = tiny_config(epochs=1, n_jobs=2, threads_per_job=1, backend="dask",
                               scheduler_address=cluster.scheduler_address)
        dask = train_members(dask_cfg, cohort, split, tmp_path / "dask",
                             member_specs(dask_cfg, cohort), verbose=False)
    a, b = loky.predictions["cnn"], dask.predictions["cnn"]
    assert dask.jobs_run == loky.jobs_run == 2
    np.testing.assert_array_equal(a.oof, b.oof)  # bit for bit
    np.testing.assert_array_equal(a.test_by_fold, b.test_by_fold)
    np.testing.assert_array_equal(a.dev_record_id, b.dev_record_id)
