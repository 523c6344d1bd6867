"""Diversity panel, report side: paired drop-one CIs on planted members, the sentence under
the leaderboard, the report section and the metrics.json block (parsed back)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from planted_members import planted

from ensembler.config import ReportConfig
from ensembler.pipeline.diversity import diversity_panel, fold_mean_auc_samples
from ensembler.report import build_report
from ensembler.report.diversity import DiversityPanel, DropOneBlock, DropOneRow
from ensembler.report.diversity_blocks import correlation_figure, diversity_blocks, gain_sentence
from ensembler.report.document import Document
from stacking import StackSpec, fit_stack, nested_cv

from .conftest import make_input

SETTINGS = dict(learners=("logistic",), transforms=("logit",), passthrough=(), n_jobs=1)


@pytest.fixture(scope="module")
def panel() -> DiversityPanel:
    d = planted()
    shipped = fit_stack(d, StackSpec("logistic", tuple(d.members), {"C": 1.0},
                                     transform="logit"), seed=0)
    greedy = StackSpec("greedy", tuple(d.members), {"n_iter": 10, "metric": "auc"})
    return diversity_panel(d, shipped, "joint_stack", greedy, settings=SETTINGS, n_trials=4,
                           stacking_trials=4, seed=0, n_boot=300)


def test_fold_mean_statistic_with_unit_weights_is_the_nested_estimate() -> None:
    d = planted(n_dev=600)
    res = nested_cv(d, 3, seed=0, learners=("logistic",), transforms=("logit",))
    assert res.oof is not None
    got = fold_mean_auc_samples(d.y, res.oof, d.folds, np.ones((1, d.n_dev)))
    assert got[0] == pytest.approx(res.mean)


def test_duplicate_ci_includes_zero_and_complementary_ci_excludes_it(panel) -> None:  # type: ignore[no-untyped-def]
    assert panel.drop_one is not None
    rows = {r.member: r for r in panel.drop_one.rows}
    dup = rows["a_copy"]
    assert dup.lo <= 0.0 <= dup.hi and abs(dup.effect) < 0.005
    comp = rows["b"]
    assert comp.lo > 0.02 and comp.carries
    assert panel.drop_one.same_procedure
    assert panel.sentence.startswith("Dropping `b` lowers the nested estimate by ")
    assert "no other member's drop-one CI excludes 0" in panel.sentence


def test_sentence_for_no_carrier_a_hurting_member_and_a_cheaper_rerun() -> None:
    row = DropOneRow("x", 0.80, 0.001, -0.004, 0.006, 0.6, 1.0)
    none = DropOneBlock(5, 20, 0.801, 200, [row], 1.0)
    text = gain_sentence(none)
    assert text.startswith("No member's drop-one CI excludes 0")
    assert "5 trials per inner study against 20" in text
    hurt = DropOneRow("y", 0.81, -0.009, -0.015, -0.003, 0.01, 1.0)
    text = gain_sentence(DropOneBlock(20, 20, 0.801, 200, [row, hurt], 1.0))
    assert text == ("Dropping `y` raises the nested estimate by 0.009 [0.003, 0.015]; no "
                    "other member's drop-one CI excludes 0.")
    carry = DropOneRow("z", 0.78, 0.02, 0.01, 0.03, 0.001, 1.0)
    text = gain_sentence(DropOneBlock(20, 20, 0.801, 200, [carry, hurt], 1.0))
    assert text == ("Dropping `z` lowers the nested estimate by 0.020 [0.010, 0.030]; dropping "
                    "`y` raises the nested estimate by 0.009 [0.003, 0.015].")
    assert gain_sentence(None, "the run has a single member").endswith(
        "(the run has a single member).")


def _section_cells(md: str, members: list[str]) -> dict[str, list[str]]:
    """The member table's rows of the Diversity section, split into cells, by member."""
    section = md.split("## Diversity (why the stack helps or not)", 1)[1].split("\n## ", 1)[0]
    rows = [ln.split(" | ") for ln in section.splitlines() if ln.startswith("| `")]
    return {r[0].strip("| `"): r for r in rows if r[0].strip("| `") in members}


def test_diversity_section_renders_every_member_and_the_figure(panel) -> None:  # type: ignore[no-untyped-def]
    doc = Document("t")
    doc.add(*diversity_blocks(panel))
    md = doc.to_markdown()
    cells = _section_cells(md, panel.members)
    assert set(cells) == {"a", "a_copy", "b"}
    assert cells["b"][5].startswith("+0.") and cells["b"][1] == "yes"
    assert cells["a_copy"][3] == "`a` 1.00 / 1.00"  # its copy, within both classes
    assert cells["b"][3].startswith("`a")  # both others at -0.28
    assert panel.sentence in md and "additions up to the kept step" in md
    assert [f.name for f in doc.figures] == ["diversity"]
    assert doc.figures[0].png.startswith(b"\x89PNG")


@pytest.mark.slow
def test_report_has_the_section_and_metrics_parse_back(panel, tmp_path) -> None:  # type: ignore[no-untyped-def]
    inp = make_input(tmp_path)
    inp.diversity = panel
    m = build_report(inp, tmp_path / "r", ReportConfig(n_bootstrap=200), seed=0)
    assert "figures/diversity.png" in m.figures
    on_disk = json.loads((tmp_path / "r" / "metrics.json").read_text())["diversity"]
    back = DiversityPanel.from_json_dict(on_disk, "metrics.json diversity")
    assert m.diversity == back  # the report's own read-back is typed too
    assert back.sentence == panel.sentence and back.members == ["a", "a_copy", "b"]
    assert back.drop_one is not None and panel.drop_one is not None
    assert [r.effect for r in back.drop_one.rows] == [r.effect for r in panel.drop_one.rows]
    assert np.allclose(np.asarray(back.correlation[0].positives, dtype=float),
                       np.asarray(panel.correlation[0].positives, dtype=float))
    md = (tmp_path / "r" / "report.md").read_text()
    board = md.split("## Leaderboard", 1)[1].split("\n## ", 1)[0]
    assert f"**Which members carry the stack.** {panel.sentence}" in board
    assert set(_section_cells(md, panel.members)) == {"a", "a_copy", "b"}
    html = (tmp_path / "r" / "report.html").read_text()
    assert 'id="fig-diversity"' in html


def test_a_constant_member_null_correlations_render(panel) -> None:  # type: ignore[no-untyped-def]
    """A member constant within a class has no correlation: null in JSON, n/a in the report."""
    doc = panel.to_json_dict()
    for key in ("positives", "negatives"):
        m = doc["correlation"][0][key]
        for i in range(len(m)):
            m[0][i] = m[i][0] = None if i else 1.0
    doc["drop_one"]["rows"][0]["p_value"] = None
    back = DiversityPanel.from_json_dict(json.loads(json.dumps(doc)), "test")
    md = Document("t")
    md.add(*diversity_blocks(back))
    cells = _section_cells(md.to_markdown(), back.members)
    assert cells["a"][3] == "n/a" and cells["a"][6].startswith("n/a")
    assert cells["b"][3].startswith("`a_copy` ")  # the others still find their closest one


def test_many_classes_draw_their_mean_and_keep_each_class_in_metrics() -> None:
    """Over three classes the heat map shows the mean over classes; metrics keep each."""
    from ensembler.pipeline.diversity import _correlation
    from ensembler.report.diversity_blocks import _panels

    rng = np.random.default_rng(0)
    n, c = 400, 5
    y = (rng.random((n, c)) < 0.4).astype(np.int64)
    oof: dict[str, np.ndarray] = {m: 1 / (1 + np.exp(-(2 * y + rng.normal(size=(n, c)))))
                                  for m in ("p", "q", "r")}
    from stacking import Level1Data

    d = Level1Data(members=list(oof), class_names=[f"k{j}" for j in range(c)], oof=oof,
                   test_by_fold={m: np.full((2, 1, c), 0.5) for m in oof}, y=y,
                   groups=np.arange(n), folds=np.arange(n) % 2)
    corr = _correlation(d)
    assert [b.class_name for b in corr] == [f"k{j}" for j in range(c)]
    ((label, pos, _neg, n_pos, n_neg),) = _panels(corr)
    assert label == "mean over 5 classes" and n_pos is None and n_neg is None
    want = np.mean([np.asarray(b.positives, dtype=float) for b in corr], axis=0)
    np.testing.assert_allclose(pos, want)
    panel = DiversityPanel(list(oof), corr, None, "greedy", [], "mean", "mean(p+q+r)", [],
                           "the run has a single member", gain_sentence(None, "test"))
    assert correlation_figure(panel).startswith(b"\x89PNG")
