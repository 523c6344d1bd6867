"""Training output: one progress display over the jobs; per-epoch lines in the log file."""

from __future__ import annotations

import io
from pathlib import Path

import click
import pytest
from rich.console import Console
from toydata import make_cohort, make_split, tiny_config

from ensembler.training.runner import member_specs, train_members
from ensembler.utils.progress import LogFile, StageRunner


@pytest.mark.slow
@pytest.mark.parametrize("verbose", [True, False])
def test_epoch_lines_go_to_the_log_and_the_terminal_gets_one_progress_display(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], verbose: bool) -> None:
    cohort = make_cohort(n_patients=24)
    split = make_split(cohort, k=3)
    cfg = tiny_config(epochs=1)
    train_members(cfg, cohort, split, tmp_path, member_specs(cfg, cohort), verbose=verbose)
    out = capsys.readouterr().out
    assert "epoch" not in out
    assert ("3/3" in out and "training" in out and "ETA" in out) == verbose
    assert out.strip() == "" or verbose
    log = LogFile.training(tmp_path).path.read_text().splitlines()
    for fold in (1, 2, 3):
        assert any(f"[cnn fold {fold}/3] epoch 1/1" in line for line in log), log
    assert sum("done (" in line for line in log) == 3


def test_stages_reset_torch_threads_and_time_each_stage() -> None:
    import torch

    before = torch.get_num_threads()
    buf = io.StringIO()
    stage = StageRunner(["a", "b"], Console(file=buf, width=80), threads=2)
    try:
        stage("a", lambda: torch.set_num_threads(1))  # e.g. latency measured at 1 thread
        seen = stage("b", torch.get_num_threads)
    finally:
        torch.set_num_threads(before)
    assert seen == 2 and set(stage.seconds) == {"a", "b"}
    assert "[1/2] a" in buf.getvalue() and "[2/2] b" in buf.getvalue()


@pytest.mark.parametrize("name", ["run", "train"])
def test_run_and_train_take_quiet(name: str) -> None:
    from ensembler.cli.main import cli

    cmd = cli.commands[name]
    assert any(isinstance(p, click.Option) and "--quiet" in p.opts for p in cmd.params)
