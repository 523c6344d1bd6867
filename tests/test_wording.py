"""Docs and docstrings do not claim more than the code does (issue 13, item 9)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md")),
           *sorted((REPO / "stacking").rglob("*.py")), *sorted((REPO / "ensembler").rglob("*.py"))]


def _text() -> str:
    return "\n".join(p.read_text() for p in SOURCES).lower()


def test_no_overclaims() -> None:
    text = " ".join(_text().split())
    for claim in ("estimate of the whole tuning", "cannot change ranking",
                  "around the whole tuning", "test set is read once",
                  "test set was read once"):
        assert claim not in text, claim


def test_nested_cv_scope_and_calibration_ties_are_stated() -> None:
    page = " ".join((REPO / "docs/sections/stacking.md").read_text().split())
    assert "nested cv covers the stacking study only" in page.lower()
    assert "isotonic regression maps score ranges to one value" in page


def test_readme_says_what_is_reproducible() -> None:
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "**What is reproducible.**" in readme and "bit-identical" in readme
    assert "On another CPU or library build" in readme
    assert "seed-to-seed spread of the primary Δ" in readme
