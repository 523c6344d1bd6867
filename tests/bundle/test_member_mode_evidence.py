"""The bundle's member-mode reason cites the run's member-mode evidence (development OOF AUC
vs share of training patients), and a refit-full bundle says where its thresholds and
calibrator came from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ensembler.bundle import export_bundle
from ensembler.bundle.export import choose_member_mode
from ensembler.bundle.run_inputs import read_run
from ensembler.config import RunConfig
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.mode_evidence import run_mode_evidence

from .conftest import TinyRun, tiny_run_config


def _signed(v: float) -> str:
    return f"{v:+.3f}".replace("-", "−")


@pytest.mark.slow
def test_the_member_mode_reason_cites_the_evidence(tiny_run: TinyRun, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run.run_dir, run)  # the session's run stays as it is
    mode, why = choose_member_mode("auto", read_run(run))
    assert mode == "fold-average" and "Member-mode evidence: none current" in why

    raw = tiny_run_config(run).model_dump(mode="json")
    cfg = RunConfig.model_validate({**raw, "export": {**raw["export"], "mode_evidence": ["cnn"]}})
    ctx = RunContext.create(cfg, run, progress=False)
    ctx.__dict__["cohort"] = tiny_run.cohort
    ev = run_mode_evidence(ctx)
    assert ev is not None
    step = ev.step("cnn")
    mode, why = choose_member_mode("auto", read_run(run))
    assert mode == "fold-average" and why.startswith("auto: fold-average")
    assert ("Member-mode evidence (efficiency/member_mode_evidence.csv): development OOF "
            "macro AUC from 75% to 100% of each fold's training patients") in why
    assert (f"cnn {_signed(step.gain_to_full)} [{_signed(step.gain_lo)}, "
            f"{_signed(step.gain_hi)}]") in why
    assert "2/1 = 2.00× a fold's training part" in why  # K = 2

    res = export_bundle(run, tmp_path / "b", cohort=tiny_run.cohort, members="refit-full",
                        onnx=False, zip=False, latency_repeats=1)
    reason = res.manifest["provenance"]["member mode"]
    assert reason.startswith("requested explicitly")
    assert ("its thresholds and calibrator are the fold models' stack's, chosen on that "
            "stack's meta-level out-of-fold predictions") in reason
    assert "development OOF macro AUC from 75% to 100%" in reason
    assert reason in (res.path / "MODEL_CARD.md").read_text()
