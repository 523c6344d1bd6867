"""Every ``ensembler`` command line in the README and the docs pages names a real command
and real options."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ensembler.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def _snippets(text: str) -> list[str]:
    """Command lines from fenced code blocks (continuations joined) and inline code spans."""
    out: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        out += block.replace("\\\n", " ").splitlines()
    prose = re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.S)
    out += re.findall(r"`([^`\n]+)`", prose)
    return out


_CALL = re.compile(r"(?:^\s*|bin/|&&\s*|;\s*)ensembler((?:\s+--[a-z-]+)*)\s+([a-z][a-z-]*)(.*)")


def _invocations(text: str) -> list[tuple[str, list[str], str]]:
    """(command, options, line) of every ``ensembler COMMAND ...`` in code."""
    found = []
    for line in _snippets(text):
        code = line.split("#", 1)[0]
        for m in _CALL.finditer(code):
            options = re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", m.group(1) + " " + m.group(3))
            found.append((m.group(2), options, line.strip()))
    return found


def _no_op_flags(cmd: click.Command) -> set[str]:
    """The side of each on/off flag that only repeats its default (``--card`` of
    ``--card/--no-card`` with default True): documenting it misleads."""
    out = set()
    for p in cmd.params:
        if isinstance(p, click.Option) and p.secondary_opts and isinstance(p.default, bool):
            out |= set(p.opts if p.default else p.secondary_opts)
    return out


def _option_names(cmd: click.Command) -> set[str]:
    names = {"--help"}
    for p in cmd.params:
        if isinstance(p, click.Option):
            names |= {*p.opts, *p.secondary_opts}
    return names


def test_readme_command_lines_match_the_cli() -> None:
    calls = [c for page in PAGES for c in _invocations(page.read_text())]
    assert len(calls) > 20  # the parser still finds the examples
    group = _option_names(cli)
    bad = []
    for name, options, line in calls:
        cmd = cli.commands.get(name)
        if cmd is None:
            bad.append(f"unknown command {name!r} in: {line}")
            continue
        known = _option_names(cmd) | group
        bad += [f"{name} has no option {o} (README: {line})" for o in options if o not in known]
        bad += [f"{name} {o} is the default; document the other side (README: {line})"
                for o in options if o in _no_op_flags(cmd)]
    assert not bad, "\n".join(bad)
