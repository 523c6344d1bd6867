"""``build_report``: metrics.json, report.md, self-contained report.html and figures/*.png."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ensembler.config import ReportConfig
from ensembler.report import figures as F
from ensembler.report.attributions import attribution_blocks
from ensembler.report.diversity_blocks import diversity_blocks
from ensembler.report.document import Document, Figure, Heading, Paragraph, Table
from ensembler.report.importance import importance_blocks
from ensembler.report.inputs import ComparisonInput, LeaderboardEntry
from ensembler.report.metrics import compute_metrics, ordered_entries
from ensembler.report.mode_evidence import mode_evidence_blocks
from ensembler.report.schema import Metrics
from ensembler.report.selective import selective_blocks
from ensembler.report.tables import (
    HOW_TO_READ,
    bootstrap_warning,
    calibration_table,
    fairness_table,
    fmt,
    leaderboard_table,
    operating_blocks,
    pareto_key_table,
    primary_blocks,
    subgroup_table,
    test_reads_paragraph,
)
from ensembler.utils.atomic import atomic_dir, marked_by
from ensembler.utils.jsonclass import json_ready

__all__ = ["build_report", "write_report_dir"]


def _document(inp: ComparisonInput, m: Metrics, cfg: ReportConfig) -> Document:
    doc = Document(f"Single models vs ensembles — {inp.run_name}")
    entries = ordered_entries(inp)
    first = [n for n in (*(inp.primary or ()), inp.baseline)]
    plotted = sorted(
        entries, key=lambda e: (e.name not in first, first.index(e.name) if e.name in first else 0)
    )
    doc.add(
        Paragraph(
            f"Test set: {m.n_test} ECGs from {m.n_test_patients} patients; development: "
            f"{m.n_dev} ECGs from {m.n_dev_patients} patients (no patient in both). "
            f"Classes: {', '.join(m.class_names)}."
            + (
                " Left out of macro averages (one label only in test): "
                f"{m.classes_skipped_in_macro}."
                if m.classes_skipped_in_macro
                else ""
            )
        ),
        *primary_blocks(m),
        Heading("Leaderboard"),
        leaderboard_table(m),
        Paragraph(HOW_TO_READ.format(base=inp.baseline)),
        *(Paragraph(f"{d.sentence} {d.twin_sentence}".rstrip()) for d in m.distillation),
        *([Paragraph(f"**Which members carry the stack.** {inp.diversity.sentence}")]
          if inp.diversity is not None else []),
    )
    if any(r.seed_spread for r in m.leaderboard):
        doc.add(
            Paragraph(
                "*seed SD* is the spread of test AUC across training seeds (training "
                "variance), shown next to the bootstrap CI (test-sampling variance); they "
                "answer different questions."
            )
        )
    _notes(doc, inp, m)
    doc.add(Heading("Operating points"), *operating_blocks(m))
    doc.add(Heading("Calibration"), calibration_table(m))
    _figures(doc, inp, m, cfg, plotted)
    _run_figures(doc, inp)
    doc.add(*importance_blocks(inp.feature_importance))
    if inp.diversity is not None:
        doc.add(*diversity_blocks(inp.diversity))
    doc.add(*selective_blocks(inp))
    doc.add(*attribution_blocks(inp.attributions))
    _subgroups_study_provenance(doc, m, cfg)
    return doc


#: Only synthetic cohorts have an oracle AUC; what their planted condition favours.
SYNTHETIC_NOTE = (
    "The synthetic condition is planted partly in ECG feature space (QRS voltage, Q waves "
    "in V1-V3, the QT interval, an irregular rhythm and the frontal QRS axis, plus age and "
    "sex), which favours feature members (ECG features + LightGBM) over networks."
)


def _notes(doc: Document, inp: ComparisonInput, m: Metrics) -> None:
    """Per-row notes, the oracle ceiling, a best-single consistency warning, bootstrap drops."""
    notes = [f"`{r.name}`: {r.notes}" for r in m.leaderboard if r.notes]
    if m.oracle_auc is not None:
        notes.append(f"Oracle macro AUC of the generating risk (ceiling): {fmt(m.oracle_auc)}. "
                     + SYNTHETIC_NOTE)
    if not m.best_single_check.consistent:
        notes.append(
            f"Warning: `{inp.baseline}` does not have the highest development OOF AUC "
            f"among the fold bags (best: `{m.best_single_check.best_fold_bag}`)."
        )
    doc.add(*(Paragraph(n) for n in notes), *bootstrap_warning(m))


def _figures(doc: Document, inp: ComparisonInput, m: Metrics, cfg: ReportConfig,
             plotted: list[LeaderboardEntry]) -> None:
    """ROC, reliability and Pareto figures (the test-set ones every report has)."""
    y = np.asarray(inp.y_test)
    doc.add(Heading("Figures"))
    doc.add(Figure("roc", "ROC curves on the test set", F.roc_figure(y, plotted, inp.class_names)))
    doc.add(
        Figure(
            "reliability",
            "Reliability diagrams on the test set",
            F.reliability_figure(y, plotted[:4], inp.class_names, cfg.ece_bins),
        )
    )
    doc.add(
        Figure(
            "pareto",
            "Test AUC vs latency and size (Pareto front in red; numbered points, key beside "
            "the panels and below)",
            F.pareto_figure(m.leaderboard),
        ),
        pareto_key_table(m.leaderboard),
    )


def _run_figures(doc: Document, inp: ComparisonInput) -> None:
    """Figures of the optional run parts: training curves, tuning fairness, data efficiency,
    member-mode evidence."""
    if inp.training_curves:
        doc.add(
            Figure(
                "training_curves",
                "Per-member training curves (one line per fold)",
                F.training_curves_figure(inp.training_curves),
            )
        )
    if inp.fairness is not None:
        doc.add(
            Figure(
                "fairness",
                "Tuning fairness: best-so-far tuning AUC per architecture",
                F.fairness_figure(inp.fairness),
            )
        )
    if inp.fairness is not None or inp.fairness_summary is not None:
        if inp.fairness_summary is not None:
            doc.add(fairness_table(inp.fairness_summary))
        if inp.fairness_note:
            doc.add(Paragraph(inp.fairness_note))
    if inp.data_efficiency is not None:
        doc.add(
            Figure(
                "data_efficiency",
                "Data efficiency: test AUC vs fraction of training patients",
                F.data_efficiency_figure(inp.data_efficiency),
            )
        )
    if inp.mode_evidence is not None:
        doc.add(*mode_evidence_blocks(inp.mode_evidence))


def _subgroups_study_provenance(doc: Document, m: Metrics, cfg: ReportConfig) -> None:
    """Subgroup table and figure, the stacking study, and which data each choice used."""
    doc.add(Heading("Subgroups"))
    if m.subgroups.columns:
        doc.add(
            subgroup_table(m),
            Figure(
                "subgroups",
                "Subgroup AUCs (hollow: flagged small)",
                F.subgroup_figure(m.subgroups),
            ),
        )
    else:
        doc.add(
            Paragraph(
                f"No subgroup columns available (configured: {', '.join(cfg.subgroups) or 'none'})."
            )
        )
    if m.stack_study:
        doc.add(
            Heading("Stacking study"),
            Table(
                ["item", "value"],
                [[k, json.dumps(json_ready(v))] for k, v in m.stack_study.items()],
            ),
        )
    doc.add(
        Heading("Which data each choice used"),
        Table(["choice", "data used"], [[k, v] for k, v in m.provenance.items()]),
        test_reads_paragraph(m),
    )  # fmt: skip


def write_report_dir(out_dir: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (relative path -> bytes) as ``out_dir``, all or nothing.

    Through the one atomic folder writer: an interrupted build leaves the previous
    report intact, and a folder that is not a report of ours is never replaced.
    """
    with atomic_dir(out_dir, marked_by("metrics.json")) as tmp:
        for rel, data in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())


def build_report(
    inp: ComparisonInput, out_dir: str | Path, cfg: ReportConfig | None = None, seed: int = 0
) -> Metrics:
    """Score every leaderboard row on the test set and write the report.

    Writes, atomically, ``out_dir/metrics.json``, ``report.md``,
    ``report.html`` (figures embedded as base64 PNG, no external files) and
    ``figures/*.png``.

    Parameters
    ----------
    inp : the arrays and tables (see :class:`ComparisonInput`).
    out_dir : the report directory (``runs/<run>/report``); replaced as a whole.
    cfg : the ``report`` section of the run config (defaults if None).
    seed : seeds the patient bootstrap (use the run seed).

    Returns
    -------
    The ``metrics.json`` content as read back from its JSON (NaN as None).
    """
    cfg = cfg or ReportConfig()
    metrics = compute_metrics(inp, cfg, seed)
    doc = _document(inp, metrics, cfg)
    metrics.figures = [f"figures/{f.name}.png" for f in doc.figures]
    if inp.attributions is not None:
        metrics.attributions = inp.attributions.to_block()
    clean = metrics.to_json_dict()
    files = {
        "metrics.json": json.dumps(clean, indent=2, allow_nan=False).encode(),
        "report.md": doc.to_markdown().encode(),
        "report.html": doc.to_html().encode(),
        **{f"figures/{f.name}.png": f.png for f in doc.figures},
    }
    write_report_dir(Path(out_dir), files)
    return Metrics.from_json_dict(clean)
