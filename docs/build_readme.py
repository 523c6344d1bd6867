"""Assemble README.md from docs/readme/*.md, docs/sections/*.md and the config reference.

Run: ``.venv/bin/python docs/build_readme.py`` (a test checks README.md is current).
"""

from __future__ import annotations

from pathlib import Path

from ensembler.config.reference import markdown

DOCS = Path(__file__).parent
ORDER = [
    "readme/00_head.md", "readme/10_quickstart.md", "readme/20_own_data.md",
    "sections/data.md", "sections/models.md", "sections/training.md", "sections/tuning.md",
    "sections/stacking.md", "sections/report.md", "sections/bundle.md", "readme/30_cli.md",
    "CONFIG", "readme/80_scaling.md", "readme/90_results.md", "readme/95_deps.md",
]


def build() -> str:
    parts = []
    for name in ORDER:
        if name == "CONFIG":
            parts.append("## Config reference\n\nEvery field of a run config, with its default. "
                         "Unknown fields are errors, and errors name the YAML path.\n\n"
                         + markdown() + "\n")
            continue
        path = DOCS / name
        if path.is_file():
            parts.append(path.read_text().strip() + "\n")
    return "\n".join(parts)


if __name__ == "__main__":
    (DOCS.parent / "README.md").write_text(build())
    print("README.md written")
