"""Run the ``ensembler`` CLI in-process and return its exit code (shared by the CLI tests).

Imported by tests as ``from clirun import run_cli`` (pytest puts tests/ on sys.path)."""

from __future__ import annotations

import sys

import pytest

from ensembler.cli.main import main


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """``ensembler ARGS...`` as the console would run it; the exit code (0 on return)."""
    monkeypatch.setattr(sys, "argv", ["ensembler", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
