"""The manifest's ``metrics`` block through its dataclasses (issue 14).

The golden files were captured with the code before the block was typed (commit a6b3c9e,
dicts built and read by string keys):

- ``quickstart_manifest.json``: the manifest of a quickstart bundle written by that code
  (``files``, ``file_sizes`` and the digest left out; created_at and run_dir neutralised);
- ``manifest_metrics_blocks.json``: the blocks its builders wrote from
  ``tests/report/data/quickstart_metrics.json`` — from the report (stack found / not
  found), without a report, refit-full measured at export (a fixed synthetic test set),
  refit-full without a test set;
- ``manifest_metrics_golden.json``: for the bundle's own block and each of those, the
  model card, ``inspect``'s test-AUC line and ``evaluate``'s reference AUC it printed.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from ensembler.bundle.card import model_card
from ensembler.bundle.estimates import refit_full_headline
from ensembler.bundle.evaluate import reference_auc
from ensembler.bundle.manifest import headline_from_report
from ensembler.bundle.manifest_metrics import ManifestMetrics, manifest_metrics
from ensembler.cli.bundle_cmds import test_auc_line as auc_line  # not collected
from ensembler.report.schema import read_metrics
from ensembler.utils.jsonclass import SchemaError

DATA = Path(__file__).parent / "data"
QUICKSTART_METRICS = Path(__file__).parents[1] / "report" / "data" / "quickstart_metrics.json"


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


MANIFEST = _load("quickstart_manifest.json")
BLOCKS = _load("manifest_metrics_blocks.json")
GOLDEN = _load("manifest_metrics_golden.json")
VARIANTS = {"bundle": MANIFEST["metrics"], **BLOCKS}


def _text(d: Any) -> str:
    """Canonical JSON text: equal only when every key, value and scalar type is equal."""
    return json.dumps(d, sort_keys=True, allow_nan=False)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_an_existing_block_round_trips_unchanged(variant: str) -> None:
    block = VARIANTS[variant]
    assert _text(ManifestMetrics.from_json_dict(block).to_json_dict()) == _text(block)


def test_the_builders_write_the_blocks_they_wrote_before() -> None:
    metrics = read_metrics(QUICKSTART_METRICS)
    rng = np.random.default_rng(0)  # the synthetic test set the golden was made with
    y = (rng.random((40, 1)) < 0.4).astype(np.int64)
    p = np.clip(0.5 * y + 0.6 * rng.random((40, 1)), 0, 1)
    groups = np.repeat(np.arange(20), 2)
    refit = SimpleNamespace(stack=SimpleNamespace(class_names=["condition"]), metrics=metrics)
    built = {
        "report": headline_from_report(SimpleNamespace(metrics=metrics,  # type: ignore[arg-type]
                                                       stack_name="joint_stack")),
        "stack_missing": headline_from_report(SimpleNamespace(  # type: ignore[arg-type]
            metrics=metrics, stack_name="nosuch")),
        "no_report": headline_from_report(SimpleNamespace(  # type: ignore[arg-type]
            metrics=None, stack_name="joint_stack")),
        "refit": refit_full_headline(refit, y, groups, p, [0.5], 50, 0),  # type: ignore[arg-type]
        "refit_no_test": refit_full_headline(refit, y[:0], groups[:0],  # type: ignore[arg-type]
                                             p[:0], [0.5], 50, 0),
    }
    for name, block in built.items():
        out = json.loads(json.dumps(block.to_json_dict()))
        assert _text(out) == _text(BLOCKS[name]), name
        assert list(out) == list(BLOCKS[name]), name  # the keys keep their order too


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_card_inspect_and_evaluate_print_what_they_printed(variant: str) -> None:
    manifest = {**MANIFEST, "metrics": VARIANTS[variant]}
    want = GOLDEN[variant]
    assert model_card(manifest) == want["card"]
    assert auc_line(manifest["metrics"]) == want["inspect"]
    assert reference_auc(manifest, "b") == want["evaluate_reference"]


def test_a_manifest_without_metrics() -> None:
    manifest = {k: v for k, v in MANIFEST.items() if k != "metrics"}
    assert manifest_metrics(manifest) is None
    assert auc_line(manifest.get("metrics")) == GOLDEN["no_metrics"]["inspect"]
    assert reference_auc(manifest, "b") is GOLDEN["no_metrics"]["evaluate_reference"]
    with pytest.raises(SchemaError, match=r"^manifest\.json: metrics: missing"):
        model_card(manifest)


def _broken(edit: str) -> dict[str, Any]:
    block = copy.deepcopy(MANIFEST["metrics"])
    if edit == "no status":
        del block["status"]
    elif edit == "stack is a list":
        block["stack"] = [0.7]
    elif edit == "n_test is text":
        block["n_test"] = "240"
    elif edit == "AUC is text":
        block["stack"]["test_auc"]["point"] = "0.7"
    elif edit == "no stack AUC":
        del block["stack"]["test_auc"]
    elif edit == "evaluated without a stack":
        block["stack"] = None
    elif edit == "leaderboard row is a number":
        block["leaderboard"][2] = 3
    return block


@pytest.mark.parametrize(("edit", "message"), [
    ("no status", "metrics.status: missing"),
    ("stack is a list", "metrics.stack: expected an object, got list"),
    ("n_test is text", "metrics.n_test: expected an integer, got str"),
    ("AUC is text", "metrics.stack.test_auc.point: expected a number, got str"),
    ("no stack AUC", "metrics.stack.test_auc: missing"),
    ("evaluated without a stack", "metrics.stack: null, expected the shipped stack's row"),
    ("leaderboard row is a number", "metrics.leaderboard[2]: expected an object, got int"),
])
def test_a_malformed_block_is_named(edit: str, message: str) -> None:
    manifest = {**MANIFEST, "metrics": _broken(edit)}
    for read in (lambda: model_card(manifest), lambda: auc_line(manifest["metrics"]),
                 lambda: manifest_metrics(manifest)):
        with pytest.raises(SchemaError, match="^" + re.escape(f"manifest.json: {message}")):
            read()
    with pytest.raises(SchemaError, match="^" + re.escape(f"b/manifest.json: {message}")):
        reference_auc(manifest, "b")
