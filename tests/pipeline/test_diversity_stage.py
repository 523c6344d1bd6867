"""The diversity stage reuses the stacking stage's nested result only when it is comparable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from planted_members import planted

from ensembler.pipeline.diversity import _reference
from ensembler.utils.atomic import save_npz, write_json
from stacking import NestedCVResult, StackStudyResult, nested_cv


def _write_stack(run: Path, trials: int) -> NestedCVResult:
    d = planted(n_dev=400)
    res = nested_cv(d, trials, seed=0, learners=("logistic",), transforms=("logit",))
    assert res.oof is not None
    save_npz(run / "stack" / "nested_oof.npz", oof=res.oof, trials=np.array(trials))
    doc = StackStudyResult(res.specs[0], 0.9, res, trials=pd.DataFrame())
    write_json(run / "stack" / "study.json", {"joint_stack": doc.to_dict()})
    return res


def test_reference_is_the_stacking_stages_nested_result_under_the_same_trials(
        tmp_path: Path) -> None:
    res = _write_stack(tmp_path, 3)
    ref = _reference(tmp_path, 3)
    assert ref is not None and ref.oof is not None
    assert ref.mean == res.mean and ref.fold_aucs == res.fold_aucs
    np.testing.assert_array_equal(ref.oof, res.oof)
    assert [s.to_dict() for s in ref.specs] == [s.to_dict() for s in res.specs]
    assert _reference(tmp_path, 5) is None  # cheaper reruns recompute their own reference
    (tmp_path / "stack" / "nested_oof.npz").unlink()
    assert _reference(tmp_path, 3) is None
    assert json.loads((tmp_path / "stack" / "study.json").read_text())["joint_stack"]["nested"]
