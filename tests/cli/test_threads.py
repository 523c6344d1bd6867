"""CPU threads: the default follows the CPUs this process may use; spinning is off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ensembler.cli.main import cli
from ensembler.utils import threads


def test_default_threads_follow_affinity_quota_and_cap(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(threads, "_cgroup_cpus", lambda: None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3}, raising=False)
    assert threads.available_cpus() == 2 and threads.default_threads() == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert threads.default_threads() == threads.MAX_DEFAULT_THREADS
    monkeypatch.setattr(threads, "_cgroup_cpus", lambda: 3.5)
    assert threads.available_cpus() == 3


def test_cgroup_quota_is_read(tmp_path: Path) -> None:
    f = tmp_path / "cpu.max"
    f.write_text("150000 100000\n")
    assert threads._cgroup_cpus(f) == 1.5
    f.write_text("max 100000\n")
    assert threads._cgroup_cpus(f) is None
    assert threads._cgroup_cpus(tmp_path / "absent") is None


@pytest.mark.parametrize("name", ["predict", "export", "evaluate", "run"])
def test_commands_take_threads(name: str) -> None:
    opts = {o for p in cli.commands[name].params if isinstance(p, click.Option) for o in p.opts}
    assert "--threads" in opts


def test_set_torch_threads() -> None:
    import torch

    before = torch.get_num_threads()
    try:
        assert threads.set_torch_threads(1) == 1 and torch.get_num_threads() == 1
        assert threads.set_torch_threads(None) == threads.default_threads()
    finally:
        torch.set_num_threads(before)


def test_the_cli_turns_openmp_spinning_off_before_torch_loads() -> None:
    code = ("import os, sys\n"
            "from ensembler.cli.main import main\n"
            "sys.argv = ['ensembler', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules, file=sys.stderr)\n")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert res.stderr.strip().splitlines()[-1] == "PASSIVE False"
