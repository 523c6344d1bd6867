"""The manifest's ``stack.development_estimate`` and ``member_mode_test_auc`` blocks through
their dataclasses (issue 14).

``data/development_estimate_golden.json`` was captured with the code before the blocks were
typed (commit 4a14515, dicts built and read by string keys): for each kind of development
estimate, the inputs it was built from (the stack's name, ``stack/study.json``, the fitted
stack's fold AUCs and inner CV score), the block the builder wrote (as ``manifest.json``
keeps it) and the model card of the quickstart manifest carrying it; for each member-mode
block, the block and the card; and the card of the quickstart manifest as it is.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ensembler.bundle.card import model_card
from ensembler.bundle.estimates import development_estimate
from ensembler.bundle.manifest_estimates import (
    DevelopmentEstimate,
    MemberModeTestAUC,
    manifest_development_estimate,
    manifest_mode_auc,
)
from ensembler.utils.jsonclass import SchemaError

DATA = Path(__file__).parent / "data"
MANIFEST = json.loads((DATA / "quickstart_manifest.json").read_text())
GOLDEN = json.loads((DATA / "development_estimate_golden.json").read_text())
ESTIMATES = GOLDEN["development_estimate"]
MODES = GOLDEN["member_mode_test_auc"]


def _text(d: Any) -> str:
    """Canonical JSON text: equal only when every key, value and scalar type is equal."""
    return json.dumps(d, sort_keys=True, allow_nan=False)


def _with(estimate: Any = None, modes: Any = None) -> dict[str, Any]:
    """The quickstart manifest with its development estimate and/or member-mode block
    replaced."""
    man = copy.deepcopy(MANIFEST)
    if estimate is not None:
        man["stack"]["development_estimate"] = estimate
    if modes is not None:
        man["member_mode_test_auc"] = modes
    return man


def _built(spec: dict[str, Any], tmp_path: Path) -> DevelopmentEstimate:
    """The development estimate of a run with the golden's ``inputs``."""
    if spec["study"] is not None:
        (tmp_path / "stack").mkdir()
        (tmp_path / "stack" / "study.json").write_text(json.dumps(spec["study"]))
    inp = SimpleNamespace(run_dir=tmp_path, stack_name=spec["stack_name"],
                          stack=SimpleNamespace(fold_aucs_=spec["fold_aucs"],
                                                cv_auc_=spec["cv_auc"]))
    return development_estimate(inp)  # type: ignore[arg-type]


@pytest.mark.parametrize("variant", sorted(ESTIMATES))
def test_the_builder_writes_the_block_it_wrote_before(variant: str, tmp_path: Path) -> None:
    want = ESTIMATES[variant]["block"]
    out = json.loads(json.dumps(_built(ESTIMATES[variant]["inputs"], tmp_path).to_json_dict(),
                                allow_nan=False))
    assert _text(out) == _text(want)
    assert list(out) == list(want)  # the keys keep their order too


@pytest.mark.parametrize("variant", sorted(MODES))
def test_the_member_mode_block_is_the_one_written_before(variant: str) -> None:
    want = MODES[variant]["block"]
    out = MemberModeTestAUC.of(want["values"]).to_json_dict()
    assert _text(out) == _text(want) and list(out) == list(want)


@pytest.mark.parametrize("variant", sorted(ESTIMATES))
def test_an_estimate_round_trips_and_the_card_is_unchanged(variant: str) -> None:
    block = ESTIMATES[variant]["block"]
    assert _text(DevelopmentEstimate.from_json_dict(block).to_json_dict()) == _text(block)
    assert model_card(_with(estimate=block)) == ESTIMATES[variant]["card"]


@pytest.mark.parametrize("variant", sorted(MODES))
def test_a_member_mode_block_round_trips_and_the_card_is_unchanged(variant: str) -> None:
    block = MODES[variant]["block"]
    assert _text(MemberModeTestAUC.from_json_dict(block).to_json_dict()) == _text(block)
    assert model_card(_with(modes=block)) == MODES[variant]["card"]


def test_the_quickstart_bundle_card_is_unchanged() -> None:
    assert model_card(copy.deepcopy(MANIFEST)) == GOLDEN["bundle_card"]
    est = manifest_development_estimate(MANIFEST)
    assert est.kind == "nested_cv" and est.inner_cv_auc == pytest.approx(0.7803443606370011)
    assert manifest_mode_auc(MANIFEST).values == {"fold-average": 0.794182769726248}


def test_a_newer_writer_s_keys_survive() -> None:
    block = {**ESTIMATES["nested_cv"]["block"], "ci": [0.7, 0.8]}
    out = DevelopmentEstimate.from_json_dict(block).to_json_dict()
    assert _text(out) == _text(block) and list(out)[-1] == "ci"


def _broken(edit: str) -> dict[str, Any]:
    est = copy.deepcopy(ESTIMATES["nested_cv"]["block"])
    modes = copy.deepcopy(MODES["both_modes"]["block"])
    man = _with(estimate=est, modes=modes)
    if edit == "no estimate":
        del man["stack"]["development_estimate"]
    elif edit == "estimate is a list":
        man["stack"]["development_estimate"] = [0.7]
    elif edit == "no label":
        del est["label"]
    elif edit == "mean is text":
        est["mean"] = "0.77"
    elif edit == "fold AUC is null":
        est["fold_aucs"][1] = None
    elif edit == "unknown kind":
        est["kind"] = "holdout"
    elif edit == "inner score without its label":
        est["inner_cv_label"] = None
    elif edit == "no member modes":
        del man["member_mode_test_auc"]
    elif edit == "mode AUC is text":
        modes["values"]["refit-full"] = "0.8"
    return man


@pytest.mark.parametrize(("edit", "message"), [
    ("no estimate", "stack.development_estimate: missing"),
    ("estimate is a list", "stack.development_estimate: expected an object, got list"),
    ("no label", "stack.development_estimate.label: missing"),
    ("mean is text", "stack.development_estimate.mean: expected a number, got str"),
    ("fold AUC is null",
     "stack.development_estimate.fold_aucs[1]: expected a number, got null"),
    ("unknown kind", "stack.development_estimate.kind: 'holdout', expected one of"),
    ("inner score without its label",
     "stack.development_estimate.inner_cv_label: null, expected the label of inner_cv_auc"),
    ("no member modes", "member_mode_test_auc: missing"),
    ("mode AUC is text", "member_mode_test_auc.values.refit-full: expected a number, got str"),
])
def test_a_malformed_block_is_named(edit: str, message: str) -> None:
    man = _broken(edit)
    read = manifest_mode_auc if edit.endswith("modes") or "mode AUC" in edit else \
        manifest_development_estimate
    for call in (lambda: model_card(man), lambda: read(man)):
        with pytest.raises(SchemaError, match="^" + re.escape(f"manifest.json: {message}")):
            call()
    with pytest.raises(SchemaError, match="^" + re.escape(f"b/manifest.json: {message}")):
        read(man, "b/manifest.json")
