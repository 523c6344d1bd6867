"""The README is generated from docs/ and documents every config field."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ensembler.config.reference import rows

REPO = Path(__file__).resolve().parents[1]


def test_readme_is_current() -> None:
    spec = importlib.util.spec_from_file_location("build_readme", REPO / "docs/build_readme.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (REPO / "README.md").read_text() == module.build(), (
        "README.md is stale: run `.venv/bin/python docs/build_readme.py`")


def test_every_config_field_is_documented() -> None:
    readme = (REPO / "README.md").read_text()
    missing = [path for path, *_ in rows() if f"`{path}`" not in readme]
    assert not missing, missing
    undocumented = [path for path, _, _, note in rows() if not note]
    assert not undocumented, f"config fields without a # comment: {undocumented}"


def test_two_setup_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make quickstart" in readme and "make test" in readme
