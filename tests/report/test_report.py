"""The report on a small synthetic input: HTML content, embedded figures, metrics vs sklearn."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    roc_auc_score,
    roc_curve,
)

from ensembler.config import ReportConfig
from ensembler.errors import PredictionsError, SplitError
from ensembler.report import build_report
from ensembler.report.schema import CI, LatencyRow, ParetoPoint

from .conftest import make_input

CFG = ReportConfig(n_bootstrap=200, min_subgroup_n=20)
FIGURES = {
    "roc",
    "reliability",
    "pareto",
    "training_curves",
    "fairness",
    "data_efficiency",
    "subgroups",
    "risk_coverage",
    "decision_curve",
}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str | None]] = []
        self.figure_ids: list[str] = []
        self.cells: list[str] = []
        self.text: list[str] = []
        self.external: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a)
        if tag == "figure":
            self.figure_ids.append(str(a.get("id")))
        if tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")
        if tag in ("script", "link") or (
            tag == "img" and not str(a.get("src")).startswith("data:")
        ):
            self.external.append(tag)

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_cell:
            self.cells[-1] += data


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("built")
    comparison = make_input(tmp)
    out = tmp / "report"
    metrics = build_report(comparison, out, CFG, seed=3)
    return comparison, out, metrics


def test_html_lists_every_model_and_embeds_every_figure(built):
    inp, out, metrics = built
    parser = _Collector()
    parser.feed((out / "report.html").read_text())
    for e in inp.entries:
        assert e.name in parser.cells, f"leaderboard row {e.name} missing"
    assert {i.removeprefix("fig-") for i in parser.figure_ids} == FIGURES
    assert len(parser.imgs) == len(FIGURES) and not parser.external
    for img in parser.imgs:
        src = str(img["src"])
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(metrics.figures) == sorted(f"figures/{f}.png" for f in FIGURES)
    for f in FIGURES:
        assert (out / "figures" / f"{f}.png").read_bytes()[:4] == b"\x89PNG"
    text = " ".join(parser.text)
    assert "Test labels were read by 1 stage(s)" in text and "development data only" in text
    assert "too small" in parser.cells  # the 4-ECG age band is flagged
    md = (out / "report.md").read_text()
    assert all(e.name in md for e in inp.entries) and "none of these reads informed" in md
    assert "planted partly in ECG feature space" in md  # synthetic cohort (oracle AUC)


def test_metrics_json_agrees_with_sklearn(built):
    inp, out, metrics = built
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk == metrics.to_json_dict()
    y = inp.y_test
    rows = {r["name"]: r for r in on_disk["leaderboard"]}
    assert list(rows) == [
        "resnet_fold1", "resnet", "inception", "best_single", "mean", "joint_stack"
    ]  # fmt: skip
    for e in inp.entries:
        r = rows[e.name]
        p = e.test_proba
        assert r["test_auc"]["point"] == pytest.approx(roc_auc_score(y, p, average="macro"))
        assert r["test_auc"]["lo"] < r["test_auc"]["point"] < r["test_auc"]["hi"]
        for c, name in enumerate(inp.class_names):
            assert r["test_auc_per_class"][name]["point"] == pytest.approx(
                roc_auc_score(y[:, c], p[:, c])
            )
            assert r["test_ap"]["per_class"][name] == pytest.approx(
                average_precision_score(y[:, c], p[:, c])
            )
        brier = np.mean([brier_score_loss(y[:, c], p[:, c]) for c in range(3)])
        assert r["calibration"]["brier"]["macro"] == pytest.approx(brier)
        assert r["dev_oof_auc"] == pytest.approx(
            roc_auc_score(inp.y_dev, e.dev_oof_proba, average="macro")
        )
        # threshold from development OOF only (Youden), applied to the test set
        for c, name in enumerate(inp.class_names):
            fpr, tpr, thr = roc_curve(inp.y_dev[:, c], e.dev_oof_proba[:, c])
            assert r["threshold"][name] == pytest.approx(thr[np.argmax(tpr - fpr)])
            pred = p[:, c] >= r["threshold"][name]
            sens = (pred & (y[:, c] == 1)).sum() / y[:, c].sum()
            got = r["operating_point"]["per_class"][c]["sensitivity"]["point"]
            assert got == pytest.approx(sens)
    base = rows["best_single"]["test_auc"]["point"]
    d = rows["joint_stack"]["delta_vs_baseline"]
    assert d["delta"] == pytest.approx(rows["joint_stack"]["test_auc"]["point"] - base)
    assert rows["best_single"]["delta_vs_baseline"] is None
    pr = on_disk["primary"]
    assert (pr["a"], pr["b"]) == ("joint_stack", "best_single")
    assert pr["delta"] == pytest.approx(d["delta"]) and pr["p_value"] == d["p_value"]
    assert len(pr["delong"]) == 3 and all(x["p_holm"] >= x["p_value"] for x in pr["delong"])
    assert rows["joint_stack"]["dev_oof_auc_label"] == "selected on (optimistic)"
    assert rows["joint_stack"]["seed_spread"]["sd"] == pytest.approx(0.01)
    assert on_disk["subgroups"]["unavailable"] == ["paced"]
    sexes = on_disk["subgroups"]["columns"]["sex"]["joint_stack"]
    female = np.asarray(inp.subgroups_test["sex"] == "F")
    auc_f = roc_auc_score(y[female], inp.entries[-1].test_proba[female], average="macro")
    assert sexes[0]["value"] == "F" and sexes[0]["auc"] == pytest.approx(auc_f)
    reads = on_disk["test_set_reads"]
    assert reads["count"] == 1 and reads["informed_a_choice"] == []
    assert reads["stages"][0]["stage"] == "comparison report"
    assert on_disk["best_single_check"]["consistent"]


@pytest.mark.slow
def test_report_is_reproducible_and_replaced_atomically(comparison, tmp_path):
    out = tmp_path / "report"
    first = build_report(comparison, out, CFG, seed=3)
    assert build_report(comparison, out, CFG, seed=3) == first
    before = (out / "metrics.json").read_text()
    comparison.entries[0].test_proba = comparison.entries[0].test_proba[:10]  # broken input
    with pytest.raises(PredictionsError, match="resnet_fold1"):
        build_report(comparison, out, CFG, seed=3)
    assert (out / "metrics.json").read_text() == before  # the old report is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves", "report"]  # no temp left


def test_input_errors_name_the_problem(comparison, tmp_path):
    comparison.primary = ("joint_stack", "nonexistent")
    with pytest.raises(PredictionsError, match="nonexistent"):
        build_report(comparison, tmp_path / "r", CFG)
    comparison.primary = ("joint_stack", "best_single")
    comparison.groups_dev = comparison.groups_dev.copy()
    comparison.groups_dev[0] = comparison.groups_test[0]
    with pytest.raises(SplitError, match="both development and test"):
        build_report(comparison, tmp_path / "r", CFG)
    assert not (tmp_path / "r").exists()


def test_minimal_input_without_optional_parts(comparison, tmp_path):
    for e in comparison.entries:
        e.latency_ms, e.n_params, e.seed_spread = None, None, None
    comparison.entries[0].dev_oof_proba = None  # a single fold model: no OOF, no threshold
    comparison.training_curves, comparison.fairness, comparison.data_efficiency = {}, None, None
    comparison.subgroups_test = None
    comparison.primary = None
    m = build_report(comparison, tmp_path / "r", CFG)
    assert sorted(m.figures) == [
        "figures/decision_curve.png",  # best single and the first stack have development OOF
        "figures/pareto.png",
        "figures/reliability.png",
        "figures/risk_coverage.png",
        "figures/roc.png",
    ]
    assert m.leaderboard[0].operating_point is None and m.primary is None
    assert m.diversity is None  # no panel given: no section, no figure
    html = (tmp_path / "r" / "report.html").read_text()
    assert "No primary comparison" in html and "n/a" in html


@pytest.mark.slow
def test_test_reads_are_counted_and_labelled(comparison, tmp_path):
    """metrics.json lists every stage that read test labels, none informing a choice."""
    comparison.test_reads = [
        {"stage": "data efficiency", "when": "before this report", "what": "test AUC per fraction"},
        {"stage": "bundle export", "when": "after this report", "what": "member-mode test AUC"},
    ]
    m = build_report(comparison, tmp_path / "r", CFG, seed=0)
    reads = m.test_set_reads
    assert reads.count == 3
    assert [r.stage for r in reads.stages] == [
        "comparison report", "data efficiency", "bundle export"]
    assert not any(r.informed_choice for r in reads.stages)
    md = (tmp_path / "r" / "report.md").read_text()
    assert "read by 3 stage(s)" in md and "data efficiency (before this report" in md
    assert reads.ledger is None and "were not checked (no test-read ledger)" in md


@pytest.mark.slow
def test_the_ledger_block_is_in_metrics_and_report(comparison, tmp_path):
    """An earlier read of the same test set by another configuration: this is read 2."""
    import json

    from ensembler.report.ledger import LedgerEntry, fingerprint_test_set, record_read

    def entry(evaluated: str, config: str) -> LedgerEntry:
        n = len(comparison.y_test)
        return LedgerEntry(fingerprint=fingerprint_test_set(range(n)), n_test=n,
                           classes=list(comparison.class_names), config=config,
                           run_dir=f"/runs/{config}", evaluated=evaluated, code="git 1",
                           time="2026-11-30T09:00:00+00:00", what="leaderboard")

    record_read(tmp_path / "l.jsonl", entry("first models", "seed1"))
    comparison.test_ledger = record_read(tmp_path / "l.jsonl", entry("other models", "seed2"))
    build_report(comparison, tmp_path / "r", CFG, seed=0)
    block = json.loads((tmp_path / "r" / "metrics.json").read_text())["test_set_reads"]["ledger"]
    assert block["read_index"] == 2 and block["new_read"] is True
    assert [r["config"] for r in block["earlier"]] == ["seed1"]
    md = (tmp_path / "r" / "report.md").read_text()
    assert f"This is read 2 of this test set ({len(comparison.y_test)} ECGs)" in md
    assert "ledger: 2026-11-30T09:00:00+00:00, seed1 at /runs/seed1 — leaderboard" in md


@pytest.mark.slow
def test_dev_auc_labels_and_nested_estimate(comparison, tmp_path):
    """Selected-on AUCs are labelled optimistic; the nested estimate sits beside them."""
    by = {e.name: e for e in comparison.entries}
    by["resnet_fold1"].dev_auc_label = "fold bag's OOF (this network has none)"
    by["joint_stack"].dev_estimate = {"label": "nested CV", "mean": 0.71, "sd": 0.02,
                                      "n_folds": 4}
    comparison.tuned_members = {"joint_stack", "best_single"}
    m = build_report(comparison, tmp_path / "r", CFG, seed=0)
    rows = m.rows
    assert rows["best_single"].dev_oof_auc_label == "selected on (optimistic)"
    assert rows["joint_stack"].dev_oof_auc_label == "selected on (optimistic)"
    assert rows["resnet"].dev_oof_auc_label == "out-of-fold"
    assert str(rows["resnet_fold1"].dev_oof_auc_label).startswith("fold bag's OOF")
    est = rows["joint_stack"].dev_estimate
    assert est is not None and est.mean == 0.71
    md = (tmp_path / "r" / "report.md").read_text()
    assert "(selected on (optimistic)); nested CV 0.710 ± 0.020" in md


@pytest.mark.slow
def test_degenerate_resamples_are_counted_and_warned(comparison, tmp_path):
    """A rare class loses its positives in some resamples: counted per row, class,
    subgroup and operating point, and the report warns above 1 %."""
    y = comparison.y_test.copy()
    y[:, 1] = 0
    y[:2, 1] = 1  # one patient (two ECGs) carries every MI positive
    comparison.y_test = y
    m = build_report(comparison, tmp_path / "r", CFG, seed=0)
    d = m.rows["joint_stack"].bootstrap_dropped
    # P(patient not drawn in 90 draws of 90) ~ 37 %: many of 200 resamples lose MI
    assert 0.2 * CFG.n_bootstrap < d.auc_per_class["MI"] == d.auc_macro  # type: ignore[operator]
    assert d.auc_per_class["NORM"] == 0
    assert d.operating_point is not None
    assert d.operating_point.per_class["MI"]["sensitivity"] == d.auc_per_class["MI"]
    sub = m.to_json_dict()["subgroups"]["columns"]["sex"]["joint_stack"]
    assert all("n_dropped" in s for s in sub)
    assert any("joint_stack: AUC of MI" in w for w in m.bootstrap_warnings)
    md = (tmp_path / "r" / "report.md").read_text()
    assert "degenerate bootstrap resamples" in md and "joint_stack: AUC of MI" in md


@pytest.mark.slow
def test_primary_delta_seed_spread_is_shown(comparison, tmp_path):
    comparison.primary_seed_deltas = [0.004, 0.012, -0.002]
    m = build_report(comparison, tmp_path / "r", CFG, seed=0)
    assert m.primary is not None and m.primary.seed_spread is not None
    spread = m.primary.seed_spread
    assert spread.n_seeds == 3 and spread.min == -0.002 and spread.max == 0.012
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Across 3 training seeds of the members" in md and "-0.002 to +0.012" in md


@pytest.mark.slow
def test_fairness_table_lists_every_entry(comparison, tmp_path):
    import pandas as pd

    comparison.fairness_summary = pd.DataFrame([
        {"arch": "resnet", "tuned": True, "budget_kind": "trials", "budget": 4, "complete": 3,
         "pruned": 1, "failed": 0, "best_auc": 0.8, "compute_seconds": 36.0,
         "cpu_seconds": 61.0, "budget_met": True},
        {"arch": "inception", "tuned": False, "budget_kind": None, "budget": None,
         "complete": 0, "pruned": 0, "failed": 0, "best_auc": None, "compute_seconds": 0.0,
         "budget_met": False},
        {"arch": "vit", "tuned": False, "budget_kind": None, "budget": None,
         "complete": 0, "pruned": 0, "failed": 0, "best_auc": None, "compute_seconds": 90.0,
         "cpu_seconds": 170.0, "budget_met": False,
         "schedule": "extended to 30 epochs (converged there) (20->30: +0.004 "
                     "[+0.001, +0.007]; 30->45: +0.001 [-0.002, +0.003])"},
    ])
    build_report(comparison, tmp_path / "r", CFG, seed=0)
    md = (tmp_path / "r" / "report.md").read_text()
    assert "| resnet | 4 trials | 3 | 1 | 0 | 0.800 |  | 36 | 61 |  |" in md
    assert "| inception | not tuned | 0 | 0 | 0 | n/a |  | 0 | 0 | under-tuned |" in md
    assert ("| vit | schedule only | 0 | 0 | 0 | n/a | extended to 30 epochs (converged "
            "there) (20->30: +0.004 [+0.001, +0.007]; 30->45: +0.001 [-0.002, +0.003]) | 90 "
            "| 170 | under-tuned |") in md
    # the schedule step alone (tuning.search: false) has no trials to plot: table, no figure
    comparison.fairness = None
    build_report(comparison, tmp_path / "r2", CFG, seed=0)
    md = (tmp_path / "r2" / "report.md").read_text()
    assert "| vit | schedule only |" in md and "fairness.png" not in md


def test_pareto_labels_never_overlap_with_eight_stacks_on_one_point():
    """Eight stacks at (nearly) the same point plus spread-out singles: every number is
    inside the panel, no two label boxes overlap, and each points at its own point."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ensembler.report.figures import pareto_figure, place_labels

    x = np.array([70.0 + 0.3 * i for i in range(8)] + [5.0, 11.0, 48.0, 50.0])
    y = np.array([0.925 - 0.0002 * i for i in range(8)] + [0.896, 0.920, 0.925, 0.925])
    fig = Figure(figsize=(5, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(x, y, "o")
    ax.set_xscale("log")
    ax.margins(x=0.12, y=0.08)
    fig.canvas.draw()
    labels = [str(i + 1) for i in range(len(x))]
    place_labels(ax, x, y, labels)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    from matplotlib.text import Text

    boxes = [Text.get_window_extent(t, renderer) for t in ax.texts]  # the text, not its line
    assert [t.get_text() for t in ax.texts] == labels
    frame = ax.get_window_extent()
    for i, b in enumerate(boxes):
        assert frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1
        for c in boxes[i + 1:]:
            assert not b.overlaps(c)
    for t, xi, yi in zip(ax.texts, x, y, strict=True):
        assert t.xy == pytest.approx((xi, yi))  # type: ignore[attr-defined]
    rows = [ParetoPoint(f"stack_{i}", CI(float(yi), yi - 0.01, yi + 0.01), int(1e6 * xi),
                        {"1": LatencyRow(1, float(xi), float(xi), 1)})
            for i, (xi, yi) in enumerate(zip(x, y, strict=True))]
    assert pareto_figure(rows)[:4] == b"\x89PNG"
