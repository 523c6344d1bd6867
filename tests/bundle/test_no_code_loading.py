"""Loading a bundle and predicting from WFDB files never unpickles and never imports by name.

Every pickle entry point (``pickle``/``_pickle`` load, loads and Unpickler, ``torch.load``,
``joblib.load``, ``np.load``, ``pd.read_pickle``) and ``importlib.import_module`` raise a
BaseException while the bundle loads and predicts, so no ``except Exception`` in the
loader can swallow a call. ruff's TID251 rules (pyproject.toml) ban the same calls in
the source; this test checks what actually runs.
"""

from __future__ import annotations

import _pickle
import importlib
import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
import torch.serialization

from ensembler.bundle import export_bundle, load_bundle, predict_inputs

from .conftest import TinyRun


class Refused(BaseException):
    """Raised by every patched loader; a BaseException so a broad except cannot hide it."""


def _refuse(*args: object, **kwargs: object) -> None:
    raise Refused("a pickle-based loader or importlib.import_module was called")


PATCHED = (
    (pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"),
    (_pickle, "load"), (_pickle, "loads"), (_pickle, "Unpickler"),
    (torch, "load"), (torch.serialization, "load"), (joblib, "load"),
    (np, "load"), (pd, "read_pickle"), (importlib, "import_module"),
)


def test_load_and_predict_without_pickle_or_import_module(
        tiny_run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = export_bundle(tiny_run.run_dir, tmp_path / "bundle", cohort=tiny_run.cohort).path
    ids = tiny_run.cohort.record_id[tiny_run.test_rows[:4]].astype(str)
    manifest = pd.read_csv(tiny_run.record_dir / "manifest.csv", dtype=str)
    csv = tiny_run.record_dir / "no_code_loading_inputs.csv"  # records are relative to it
    manifest.set_index("record").loc[ids].reset_index()[
        ["record", "age", "sex", "pacemaker"]].to_csv(csv, index=False)
    # Warm-up, unpatched: libraries the predict path imports lazily (e.g. neurokit2 ->
    # matplotlib) may use importlib themselves while being imported. Afterwards any call
    # is the loader's own: a patched import_module is called even for a cached module.
    predict_inputs(load_bundle(out), [csv])
    for module, name in PATCHED:
        monkeypatch.setattr(module, name, _refuse)
    with pytest.raises(Refused):  # the patches are live
        pickle.loads(b"\x80\x04K\x01.")
    with pytest.raises(Refused):
        importlib.import_module("json")

    bundle = load_bundle(out)
    res = predict_inputs(bundle, [csv])

    monkeypatch.undo()
    assert list(res.frame["record"]) == list(ids)
    np.testing.assert_allclose(res.proba, tiny_run.stacked_test[:4], atol=1e-5, rtol=0)
