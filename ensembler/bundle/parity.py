"""Export-time parity: the loaded bundle against the run's own stacked test predictions.

Two checks, both against ``pipeline_test_predictions`` of the run:

* **cache parity** (always): the bundle scores the run's cached preprocessed test
  signals; needs nothing but the run directory.
* **raw-record parity** (optional): the bundle reads the test records' raw WFDB files and
  preprocesses them itself, as a receiver would. It needs the data folder, so it runs
  when the files are reachable (``parity=None``), is forced (``True``: an error when they
  are not) or skipped (``False``). The manifest records whether it ran, and why not.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ensembler.bundle.bundle import Bundle
from ensembler.bundle.records import RecordInput
from ensembler.bundle.run_inputs import RunInputs, pipeline_test_predictions
from ensembler.data.cohort import Cohort
from ensembler.errors import StageError
from ensembler.utils.atomic import write_json

#: Parity tolerance between the loaded bundle and the run's stacked test predictions.
PARITY_TOL = 1e-5
RAW_PATH = "raw WFDB files -> bundle preprocessing -> members -> stack"


def reference(inp: RunInputs, stack_tab: np.ndarray | None, test_rows: np.ndarray,
              mode: str) -> np.ndarray:
    """The run's stacked test predictions (N_test, C) in the given member mode."""
    return pipeline_test_predictions(inp, None if stack_tab is None else stack_tab[test_rows],
                                     mode)


def _max_diff(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(got - ref))) if len(ref) else 0.0


def cache_parity(bundle: Bundle, ref: np.ndarray, x: np.ndarray, t: np.ndarray | None,
                 mode: str) -> dict[str, Any]:
    """The bundle on the cached signals ``x`` (n, leads, T) vs ``ref[:n]``; raises if off."""
    if not len(ref):
        return {"checked": False, "reason": "the run has no test set"}
    ref = ref[: len(x)]
    diff = _max_diff(bundle.predict_proba(x, t, missing="as-trained"), ref)
    if not diff <= PARITY_TOL:
        raise StageError(f"bundle parity failed: max |bundle - run| = {diff:.3g} > {PARITY_TOL} "
                         "on the test records; the run's predictions are stale or the "
                         "cache differs from the weights' training data")
    return {"checked": True, "n_records": len(x), "max_abs_diff": diff,
            "tolerance": PARITY_TOL, "against": f"the run's stacked test predictions ({mode})",
            "inputs": "the run's cached preprocessed test signals"}


def record_paths(cohort: Cohort, rows: Sequence[int] | np.ndarray) -> list[str]:
    """WFDB paths (no extension) of the cohort's ``rows``: the source path each record
    carries, so nothing re-reads the data source ("" when the cohort carries none)."""
    if cohort.source_path is None:
        return ["" for _ in rows]
    return [str(cohort.source_path[i]) for i in rows]


def raw_parity(bundle: Bundle, ref: np.ndarray, record_ids: list[str], paths: list[str],
               tabular: np.ndarray | None, requested: bool | None) -> dict[str, Any]:
    """The bundle on the raw WFDB files ``paths`` vs ``ref`` (n, C).

    ``tabular``: (n, F) raw values in ``bundle.tabular_names`` order, or None. Returns
    ``ran``, and when it ran ``max_abs_diff``, ``ok`` and ``seconds`` (prediction time);
    :func:`require_ok` raises on a failed comparison. Used by ``export`` and by the
    ``predict + parity`` stage of ``ensembler run``.
    """
    if requested is False:
        return {"ran": False, "reason": "skipped on request (--no-parity)"}
    if not len(ref):
        return {"ran": False, "reason": "the run has no test set"}
    missing = [p for p in paths if not p or not Path(p + ".hea").is_file()]
    if missing:
        why = (f"{len(missing)} of {len(paths)} test records' WFDB files are not reachable "
               f"(e.g. {missing[0] or 'no path recorded'})")
        if requested:
            raise StageError(f"raw-record parity (--parity) needs the test records' WFDB "
                             f"files, but {why}; make the data folder available, or export "
                             "with --no-parity")
        return {"ran": False, "reason": why}
    from ensembler.bundle.lengths import LengthPolicy
    from ensembler.bundle.predict import predict_inputs

    names = bundle.tabular_names
    records = [RecordInput(rid, Path(p), {n: float(tabular[i, j]) for j, n in enumerate(names)}
                           if tabular is not None else {})
               for i, (rid, p) in enumerate(zip(record_ids, paths, strict=True))]
    t0 = time.perf_counter()
    # reproduce the run's own inputs: its cache padded short records and kept missing values
    out = predict_inputs(bundle, records, missing="as-trained",
                         policy=LengthPolicy(pad_short=True), screen=False)
    seconds = time.perf_counter() - t0
    diff = _max_diff(np.asarray(out.proba), ref)
    return {"ran": True, "n_records": len(paths), "max_abs_diff": diff,
            "tolerance": PARITY_TOL, "ok": diff <= PARITY_TOL, "seconds": seconds,
            "path": RAW_PATH}


def require_ok(result: dict[str, Any]) -> None:
    """Raise StageError when a raw-record parity check ran and failed."""
    if result.get("ran") and not result.get("ok"):
        raise StageError(f"bundle parity from raw WFDB files failed on the test records: max "
                         f"|bundle - run| = {result['max_abs_diff']:.3g} > {PARITY_TOL}; the "
                         "records changed since the run, or the bundle preprocesses them "
                         "differently")


def run_parity(run_dir: Path, cohort: Cohort, fold: np.ndarray, bundle_path: Path
               ) -> dict[str, Any]:
    """``ensembler run``'s last stage: the exported bundle predicts every test record from
    its raw WFDB file (the path the cohort carries) and must equal the run's stacked test
    predictions; the same check as export's (:func:`raw_parity`), over all test records,
    required here. Writes ``run_dir/bundle_parity.json``; StageError when it fails."""
    from ensembler.bundle import load_bundle
    from ensembler.bundle.export import user_archs
    from ensembler.bundle.run_inputs import read_run

    inp = read_run(run_dir)
    bundle = load_bundle(bundle_path, allow_arch=user_archs(inp))  # the run's own archs
    test = np.flatnonzero(np.asarray(fold) == -1)
    stack_tab = None
    if inp.stack.tabular_names:
        stack_tab = cohort.tabular[:, [cohort.tabular_names.index(n)
                                       for n in inp.stack.tabular_names]].astype(np.float64)
    ref = reference(inp, stack_tab, test, bundle.member_mode)
    cols = [cohort.tabular_names.index(n) for n in bundle.tabular_names]
    result = raw_parity(bundle, ref, [str(r) for r in cohort.record_id[test]],
                        record_paths(cohort, test),
                        cohort.tabular[test][:, cols] if cols else None, requested=True)
    write_json(run_dir / "bundle_parity.json", result)
    require_ok(result)
    return result
