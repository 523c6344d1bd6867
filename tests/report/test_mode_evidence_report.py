"""The member-mode evidence as the report and the bundle read it: the measured step, the
refit-full extrapolation (labelled as one), staleness, the figure and the sentence."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from ensembler.config import ReportConfig
from ensembler.errors import StageError
from ensembler.report import build_report
from ensembler.report.document import Figure, Paragraph
from ensembler.report.mode_evidence import (
    EvidencePoint,
    ModeEvidence,
    mode_evidence_blocks,
    oof_digest,
)

from .conftest import make_input

OOF = {"a": np.linspace(0, 1, 12).reshape(6, 2), "b": np.full((6, 2), 0.5)}


def _point(member: str, fraction: float, auc: float, gain: tuple[float, float, float],
           k: int = 4) -> EvidencePoint:
    return EvidencePoint(member=member, fraction=fraction, dev_share=fraction * (k - 1) / k,
                         n_patients=100 * fraction, oof_auc=auc, oof_auc_lo=auc - 0.01,
                         oof_auc_hi=auc + 0.01, gain_to_full=gain[0], gain_lo=gain[1],
                         gain_hi=gain[2], oof_digest=oof_digest(OOF[member]), n_folds=k)


def _evidence(k: int = 4) -> ModeEvidence:
    return ModeEvidence([
        _point("a", 0.5, 0.80, (0.02, 0.01, 0.03), k), _point("a", 0.75, 0.815, (0.005, 0.002,
                                                                                    0.008), k),
        _point("a", 1.0, 0.82, (0.0, 0.0, 0.0), k),
        _point("b", 0.5, 0.70, (0.001, -0.004, 0.006), k),
        _point("b", 0.75, 0.70, (0.001, -0.003, 0.005), k),
        _point("b", 1.0, 0.701, (0.0, 0.0, 0.0), k)])


def test_summary_states_the_measured_step_and_labels_the_extrapolation() -> None:
    ev = _evidence()
    text = ev.summary()
    assert text.startswith("development OOF macro AUC from 75% to 100% of each fold's "
                           "training patients (paired patient bootstrap): a +0.005 "
                           "[+0.002, +0.008], b +0.001 [−0.003, +0.005].")
    assert "4/3 = 1.33× a fold's training part" in text
    assert "expected to gain where the step's CI is above 0" in text
    assert "log-linear extrapolation, not a measurement: a +0.005)" in text  # K=4: same ratio
    assert ev.refit_gain("a") == pytest.approx(0.005)
    assert _evidence(k=8).refit_gain("a") == pytest.approx(
        0.005 * math.log(8 / 7) / math.log(4 / 3))
    flat = ModeEvidence([p for p in ev.points if p.member == "b"])
    assert "not expected to gain clearly: no member's step has a CI above 0" in flat.summary()


def test_evidence_of_retrained_members_is_left_out(tmp_path: Path) -> None:
    ev = _evidence()
    assert ev.restricted(OOF) == ev
    assert ev.restricted({"a": OOF["a"], "b": OOF["b"] + 0.1}) == ModeEvidence(ev.curve("a"))
    assert ev.restricted({"c": OOF["a"]}) is None
    path = tmp_path / "e.csv"
    ev.write_csv(path)
    assert ModeEvidence.read_csv(path) == ev
    assert ModeEvidence.read_csv(tmp_path / "none.csv") is None
    path.write_text("member,fraction\na,0.5\n")
    with pytest.raises(StageError, match=r"e\.csv: expected columns"):
        ModeEvidence.read_csv(path)


def test_report_shows_the_figure_and_the_sentence(tmp_path: Path) -> None:
    blocks = mode_evidence_blocks(_evidence())
    assert isinstance(blocks[0], Figure) and blocks[0].png[:4] == b"\x89PNG"
    assert isinstance(blocks[1], Paragraph) and "nothing here reads the test set" in blocks[1].text
    comparison = dataclasses.replace(make_input(tmp_path), mode_evidence=_evidence())
    build_report(comparison, tmp_path / "report", ReportConfig(n_bootstrap=200), seed=3)
    md = (tmp_path / "report" / "report.md").read_text()
    assert "Member-mode evidence (efficiency/member_mode_evidence.csv): development OOF" in md
    assert (tmp_path / "report" / "figures" / "member_mode_evidence.png").is_file()
