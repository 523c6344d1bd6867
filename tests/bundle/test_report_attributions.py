"""The report's attribution section on a real tiny run: rules, numbers, parsed report.md."""

from __future__ import annotations

import re

import numpy as np
import pytest


def section_of(md: str, heading: str) -> str:
    """The text of ``## heading`` up to the next ``## `` heading (report.md)."""
    start = md.index(f"## {heading}\n")
    nxt = md.find("\n## ", start + 3)
    return md[start: nxt if nxt >= 0 else len(md)]


def parse_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Markdown tables of ``text`` as (header, rows)."""
    out, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("| "):
                    break
                rows.append([c.strip() for c in row.strip("|").split(" | ")])
            out.append(([c.strip() for c in line.strip("|").split(" | ")], rows))
    return out


@pytest.fixture(scope="module")
def report(tiny_run, tmp_path_factory):  # type: ignore[no-untyped-def]
    from ensembler.pipeline.compare import build_comparison
    from ensembler.pipeline.context import RunContext
    from ensembler.report import build_report

    ctx = RunContext.create(tiny_run.cfg, tiny_run.run_dir, progress=False)
    inp = build_comparison(ctx)
    out = tmp_path_factory.mktemp("attr") / "report"
    metrics = build_report(inp, out, tiny_run.cfg.report, seed=tiny_run.cfg.seed)
    return inp, metrics, out


def test_drawn_ecgs_follow_the_configured_rule(report, tiny_run) -> None:  # type: ignore[no-untyped-def]
    _, metrics, _ = report
    co, rows = tiny_run.cohort, tiny_run.test_rows
    pos = [r for r in rows if co.labels[r, 0] == 1]
    first: dict[str, str] = {}
    for r in sorted(pos, key=lambda r: str(co.record_id[r])):
        first.setdefault(str(co.patient_id[r]), str(co.record_id[r]))
    key = (lambda p: float(p)) if all(p.isdigit() for p in first) else str
    want = [first[p] for p in sorted(first, key=key)[:tiny_run.cfg.report.explain.per_class]]
    got = [d.record for d in metrics.attributions.drawn["condition"]]
    assert got == want and len(got) == 2


def test_sample_is_fixed_by_the_seed_and_bounded(report, tiny_run) -> None:  # type: ignore[no-untyped-def]
    from ensembler.explain.section import sample_rows

    _, metrics, _ = report
    att = metrics.attributions
    n_test = len(tiny_run.test_rows)
    assert att.n_sample == min(200, n_test) == len(set(att.sample_records))
    a, b = sample_rows(500, 200, 3), sample_rows(500, 200, 3)
    assert np.array_equal(a, b) and len(a) == 200
    assert not np.array_equal(a, sample_rows(500, 200, 4))


def test_per_lead_numbers_cover_the_stack_and_every_member(report, tiny_run) -> None:  # type: ignore[no-untyped-def]
    _, metrics, _ = report
    per = metrics.attributions.per_lead["condition"]
    assert set(per.rows) == {"stack", "cnn", "fused"}
    assert all(len(v) == 12 and min(v) >= 0 for v in per.rows.values())
    assert sum(per.rows["stack"]) > 0
    assert metrics.attributions.stack == "joint_stack"
    assert metrics.attributions.seconds > 0
    # the file holds the same block, read back through the schema
    from ensembler.report.schema import read_metrics

    assert read_metrics(report[2] / "metrics.json").attributions == metrics.attributions


def test_report_md_has_the_section_figures_and_tables(report, tiny_run) -> None:  # type: ignore[no-untyped-def]
    from ensembler.report.attributions import HEADING

    _, metrics, out = report
    md = (out / "report.md").read_text()
    sec = section_of(md, HEADING)
    assert "first 2 test patients by patient id" in sec
    figs = re.findall(r"\]\((figures/[^)]+\.png)\)", sec)
    assert figs == ["figures/attributions_condition.png", "figures/lead_importance.png"]
    for f in figs:
        assert (out / f).read_bytes()[:4] == b"\x89PNG" and f in metrics.figures
    (header, rows), = parse_tables(sec)
    assert header == ["map", *tiny_run.cohort.lead_names, "top lead", "global", "tabular"]
    names = [r[0] for r in rows]
    assert names[0] == "stack" and set(names) == {"stack", "cnn", "fused"}
    for r in rows:  # each row relative to its largest lead
        vals = [float(v) for v in r[1:13]]
        assert max(vals) == 1.0 and r[13] == header[1 + vals.index(1.0)]
    html = (out / "report.html").read_text()
    assert HEADING.replace("(", "").split()[0] in html and "fig-lead_importance" in html
    reads = {r.stage: r for r in metrics.test_set_reads.stages}
    assert reads["attributions"].informed_choice is False
