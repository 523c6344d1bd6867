"""The dependency direction of DESIGN.md is an executable contract (import-linter).

The contracts live in pyproject.toml (``[tool.importlinter]``); ``make lint`` runs them
too. The second test copies them onto a tiny project that breaks each one, so a
contract that silently stopped matching anything would fail here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", LINT, "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def _contracts_section() -> str:
    text = (REPO / "pyproject.toml").read_text()
    match = re.search(r"^\[tool\.importlinter\].*?(?=^\[tool\.(?!importlinter))", text,
                      flags=re.S | re.M)
    assert match, "pyproject.toml has no [tool.importlinter] section"
    return match.group(0)


def test_the_repository_keeps_every_contract() -> None:
    out = _lint(REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    for name in ("base_models and stacking never import ensembler",
                 "stacking never imports torch"):
        assert f"{name} KEPT" in out.stdout


def test_each_contract_catches_a_violation(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(_contracts_section())
    files = {
        "ensembler/__init__.py": "",
        "ensembler/core.py": "import base_models\nimport stacking\n",
        "base_models/__init__.py": "",
        "base_models/net.py": "import ensembler.core\n",
        "stacking/__init__.py": "",
        "stacking/learner.py": "import torch\nimport base_models.net\n",
        "torch/__init__.py": "",
    }
    for rel, body in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    out = _lint(tmp_path)
    assert out.returncode != 0
    for name in ("base_models and stacking never import ensembler",
                 "stacking never imports torch",
                 "base_models and stacking do not import each other"):
        assert f"{name} BROKEN" in out.stdout, out.stdout


UNPICKLING = """\
import pickle

import joblib
import numpy as np
import pandas as pd
import torch


def load(path):
    return (pickle.loads(path), torch.load(path), joblib.load(path),
            np.load(path, allow_pickle=True), pd.read_pickle(path))
"""
BANNED = ("`pickle`", "`torch.load`", "`joblib.load`", "`numpy.load`", "`pandas.read_pickle`")


def _ruff(source: str, filename: str, select: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", select, "--output-format",
         "concise", "--stdin-filename", filename, "-"],
        input=source, cwd=REPO, capture_output=True, text=True, timeout=60)
    return out.stdout


def test_bundle_code_may_not_unpickle() -> None:
    for filename in ("ensembler/bundle/new.py", "stacking/new.py", "base_models/new.py"):
        found = _ruff(UNPICKLING, filename, "TID251")
        missing = [api for api in BANNED if f"{api} is banned" not in found]
        assert not missing, f"{filename}: {missing} not banned\n{found}"
    # Outside the code a bundle load runs (e.g. the training cache), np.load stays allowed.
    assert "TID251" not in _ruff(UNPICKLING, "ensembler/data/new.py", "TID251")


def test_complex_functions_are_flagged() -> None:
    branches = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(10))
    found = _ruff(f"def f(x):\n{branches}    return -1\n", "ensembler/data/new.py", "C901")
    assert "`f` is too complex (11 > 10)" in found, found
