"""The cohort carries each record's source path; parity reads it, not the data source."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ensembler.bundle.parity import record_paths
from ensembler.data.cohort import Cohort


def _cohort(paths: np.ndarray | None) -> Cohort:
    n = 3
    return Cohort(signals=np.zeros((n, 12, 10), np.float32), labels=np.zeros((n, 1), np.uint8),
                  class_names=["c"], patient_id=np.array(["p1", "p2", "p3"]),
                  record_id=np.array(["r1", "r2", "r3"]), fs=100.0,
                  subgroups=pd.DataFrame({"sex": ["F", "M", "F"]}), source_path=paths)


def test_record_paths_come_from_the_cohort_and_follow_subsets() -> None:
    cohort = _cohort(np.array(["/d/a", "/d/b", "/d/c"]))
    assert record_paths(cohort, np.array([2, 0])) == ["/d/c", "/d/a"]
    sub = cohort.subset(np.array([1, 2]))
    assert sub.source_path is not None and list(sub.source_path) == ["/d/b", "/d/c"]


def test_a_cohort_without_paths_gives_blank_paths() -> None:
    assert record_paths(_cohort(None), [0, 1]) == ["", ""]
