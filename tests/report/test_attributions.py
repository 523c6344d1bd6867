"""Rendering of the attribution section (synthetic numbers; the real run is in tests/bundle)."""

from __future__ import annotations

import numpy as np

from ensembler.explain.section import AttributionSection, ClassSummary, DrawnECG, drawn_rows
from ensembler.report.attributions import HEADING, attribution_blocks
from ensembler.report.document import Document, Figure, Paragraph, Table

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def _section(best_is_network: bool) -> AttributionSection:
    rng = np.random.default_rng(0)
    sig = rng.normal(size=(12, 200)).astype(np.float32)
    drawn = DrawnECG("r1", "p1", "MI", sig, 0.8, 0.7, rng.normal(size=(12, 200)),
                     list(rng.random(12)), rng.normal(size=(12, 200)) if best_is_network
                     else None, list(rng.normal(size=12)))
    rows = {"stack": list(rng.random(12)), "cnn": list(rng.random(12)),
            "feat": list(rng.random(12))}
    return AttributionSection(
        lead_names=LEADS, stack="joint_stack", best_single="feat", drawn_rule="rule A",
        sample_rule="rule B", sample_records=["r1", "r2"], drawn={"MI": [drawn], "NORM": []},
        summaries=[ClassSummary("MI", rows, {"stack": {"global": 0.2, "tabular": 0.1},
                                             "feat": {"global": 0.3, "tabular": 0.0}})],
        skipped={"ext": "external"})


def test_blocks_render_rules_figures_and_a_table() -> None:
    blocks = attribution_blocks(_section(best_is_network=False))
    doc = Document("t", blocks)
    md = doc.to_markdown()
    assert f"## {HEADING}" in md and "rule A" in md and "rule B" in md
    assert [f.name for f in doc.figures] == ["attributions_MI", "lead_importance"]
    assert all(f.png[:4] == b"\x89PNG" for f in blocks if isinstance(f, Figure))
    (table,) = [b for b in blocks if isinstance(b, Table)]
    assert table.header[-3:] == ["top lead", "global", "tabular"]
    cnn = next(r for r in table.rows if r[0] == "cnn")
    assert cnn[-2:] == ["—", "—"]  # a network has nothing off the leads
    assert any("NORM: no test patient" in b.text for b in blocks if isinstance(b, Paragraph))
    assert "`ext`" in md


def test_unavailable_section_says_why() -> None:
    sec = AttributionSection(LEADS, "s", "b", "", "", [], {}, [],
                             unavailable="member(s) ['x'] cannot be rebuilt")
    (_, p) = attribution_blocks(sec)
    assert isinstance(p, Paragraph) and "cannot be rebuilt" in p.text
    assert sec.to_block().unavailable == "member(s) ['x'] cannot be rebuilt"
    assert sec.to_block().per_lead == {}
    assert attribution_blocks(None) == []


def test_drawn_rows_first_patients_by_numeric_id_then_first_record() -> None:
    labels = np.array([[1], [1], [0], [1], [1]])
    patient = np.array(["10", "9", "9", "10", "2"])
    record = np.array(["b", "c", "a", "a", "z"])
    # positive patients 2, 9, 10 in numeric order; patient 10's first positive record is "a"
    assert drawn_rows(labels, patient, record, 0, 3) == [4, 1, 3]
    assert drawn_rows(labels, patient, record, 0, 1) == [4]
