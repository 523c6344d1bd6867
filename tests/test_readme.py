"""The README and the generated docs pages are current, short, linked and complete."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

from ensembler.config.reference import rows

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
# README sources and page templates are inputs of docs/build_readme.py, not pages.
NOT_PAGES = ("readme", "templates")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if p.relative_to(DOCS).parts[0] not in NOT_PAGES)


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.+)$", text, flags=re.M)}


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [m.group(1) for m in LINK.finditer(text) if not re.match(r"\w+://|mailto:", m.group(1))]


def test_generated_files_are_current() -> None:
    for path, text in _module("build_readme").outputs().items():
        assert path.read_text() == text, (
            f"{path.relative_to(REPO)} is stale: run `.venv/bin/python docs/build_readme.py`")


def test_readme_is_short() -> None:
    n = len((REPO / "README.md").read_text().splitlines())
    assert n <= 250, f"README.md has {n} lines; move detail to a docs/ page"


def test_every_config_field_is_documented() -> None:
    reference = (DOCS / "config.md").read_text()
    missing = [path for path, *_ in rows() if f"`{path}`" not in reference]
    assert not missing, missing
    undocumented = [path for path, _, _, note in rows() if not note]
    assert not undocumented, f"config fields without a # comment: {undocumented}"


def test_two_setup_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make quickstart" in readme and "make test" in readme


def test_every_relative_link_resolves() -> None:
    broken = []
    for page in [REPO / "README.md", *_pages()]:
        for link in _links(page):
            target, _, anchor = link.partition("#")
            path = (page.parent / target).resolve() if target else page
            if not path.exists():
                broken.append(f"{page.relative_to(REPO)}: {link} (no such file)")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
                broken.append(f"{page.relative_to(REPO)}: {link} (no such heading)")
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    seen: set[Path] = set()
    todo = [REPO / "README.md"]
    while todo:
        page = todo.pop()
        if page in seen or page.suffix != ".md" or not page.is_file():
            continue
        seen.add(page)
        todo += [(page.parent / link.partition("#")[0]).resolve() for link in _links(page)
                 if link.partition("#")[0]]
    orphans = [str(p.relative_to(REPO)) for p in _pages() if p.resolve() not in seen]
    assert not orphans, f"docs pages no link from README.md reaches: {orphans}"


def test_results_tables_mark_contended_and_tolerate_missing_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tables = _module("results_tables")
    monkeypatch.setattr(tables, "RESULTS", tmp_path)
    load = {"before": [1.6, 1.0, 0.5], "during_max": 3.1, "other_busy_cores": 1.2, "cores": 2}
    (tmp_path / "trainer.json").write_text(json.dumps(
        {"schema": 1, "name": "trainer", "contended": True, "quick": True, "commit": "abc",
         "command": "python bench/bench_trainer.py --quick", "load": load,
         "headline": {"label": "fit_model / bare loop wall time", "ratio": 1.04,
                      "better": "lower", "target": 1.05}}))
    (tmp_path / "data.json").write_text(json.dumps(
        {"schema": 1, "name": "data", "contended": False, "headline": {"label": "reads"}}))
    (tmp_path / "ptbxl_superdiag.json").write_text(json.dumps(
        {"schema": 1, "name": "ptbxl_superdiag", "contended": True,
         "details": {"stage_seconds": {"training": 60.0},
                     "members": {"m": {"oof_macro_auc": 0.9}}}}))
    (tmp_path / "ptbxl_mi_binary.json").write_text(json.dumps(  # the pre-schema layout
        {"contended": False, "stage_seconds": {"training": 120.0}}))
    page = tables.render("{{benchmarks}}\n{{sd.stages}}\n{{sd.members}}\n{{mi.stages}}\n"
                         "{{inference}}")
    trainer_row = next(line for line in page.splitlines() if "`trainer`" in line)
    assert "| 1.04 (lower is better; target 1.05) |" in trainer_row and "**yes**" in trainer_row
    assert "1.6 / 3.1 (others 1.2 of 2 cores)" in trainer_row
    data_row = next(line for line in page.splitlines() if "`data`" in line)
    assert "| n/a |" in data_row and "| no |" in data_row
    assert "training 60 (sum 1 min) (contended)" in page
    assert "training 120 (sum 2 min)" in page and "(sum 2 min) (contended)" not in page
    assert "| m | 0.900 | n/a |" in page
    assert "n/a (run bench/bench_inference.py)" in page  # inference.json absent
    with pytest.raises(KeyError, match="unknown placeholder"):
        tables.render("{{no_such_table}}")


def test_results_leaderboard_says_whose_development_auc_a_row_shows() -> None:
    """A distilled student has no OOF of its own: the docs' leaderboard shows its figure with
    the report's label (the teacher's), and a row without a label keeps the bare number."""
    tables = _module("results_tables")
    page = tables._leaderboard([
        {"name": "distilled:m:single", "kind": "distilled", "dev_oof_auc": 0.942,
         "dev_oof_auc_label": "the teacher's meta-level OOF"},
        {"name": "m", "kind": "fold_bag", "dev_oof_auc": 0.9},
    ])
    student = next(line for line in page.splitlines() if "distilled:m:single" in line)
    assert "| 0.942 (the teacher's meta-level OOF) |" in student
    assert "| 0.900 |" in next(line for line in page.splitlines() if line.startswith("| m |"))


def test_search_range_tables_are_the_spaces_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    """The models page lists every family's searched parameters with the bounds its space
    samples, and a changed range in a space changes the generated pages."""
    from base_models import family_ranges
    from ensembler.tuning.spaces import list_spaces, reference
    from ensembler.tuning.spaces.common import TRAINING_RANGES
    from ensembler.tuning.spaces.features import LEARNER_RANGES

    page = (DOCS / "sections" / "models.md").read_text()
    block = page.partition("<!-- begin generated: family search ranges")[2]
    models = block.partition("<!-- end generated: family search ranges -->")[0].splitlines()
    for family in list_spaces():
        row = next((line for line in models if line.startswith(f"| `{family}` |")), "")
        for name, r in family_ranges(family).items():
            assert f"`{name}` {reference.describe(r)}" in row, f"models.md: {family}.{name}"
    build = _module("build_readme")
    current = build.outputs()
    s4d = family_ranges("s4d") | {"n_layers": {"low": 2, "high": 9}}
    monkeypatch.setattr(reference, "family_ranges",
                        lambda f: s4d if f == "s4d" else family_ranges(f))
    monkeypatch.setitem(TRAINING_RANGES, "lr", {"low": 1e-5, "high": 1e-2, "log": True})
    monkeypatch.setitem(LEARNER_RANGES["logistic"], "C", {"low": 1e-2, "high": 1.0})
    changed = build.outputs()
    assert "`n_layers` 2–9" in changed[DOCS / "sections" / "models.md"]
    assert "`lr` 1e-5–0.01, log" in changed[DOCS / "sections" / "tuning.md"]
    assert "| `logistic` | `C` | 0.01–1.0 |" in changed[DOCS / "sections" / "features.md"]
    stale = {p for p in current if changed[p] != current[p]}
    assert stale == {DOCS / "sections" / n for n in ("models.md", "tuning.md", "features.md")}
