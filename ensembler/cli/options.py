"""Options shared by several commands."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # imported where used: `ensembler --help` loads no config machinery
    from ensembler.config import RunConfig
    from ensembler.pipeline.context import RunContext

F = TypeVar("F", bound=Callable[..., Any])


def config_argument(fn: F) -> F:
    """CONFIG argument plus --profile and --run-dir."""
    fn = click.option("--run-dir", type=click.Path(path_type=Path), default=None,
                      help="Run directory (default: runs/<name>).")(fn)
    fn = click.option("--profile", default=None, help="Config profile to merge (e.g. full).")(fn)
    fn = click.option("--data-dir", type=click.Path(path_type=Path), default=None,
                      help="Override the data directory (PTB-XL root or manifest folder).")(fn)
    return click.argument("config", type=click.Path(path_type=Path))(fn)


def load(config: Path, profile: str | None, data_dir: Path | None) -> RunConfig:
    from ensembler.config import load_config

    overrides: dict[str, Any] = {}
    if data_dir is not None:
        raw = load_config(config, profile=profile)
        if raw.data.source == "ptbxl":
            overrides = {"data": {"ptbxl": {"path": str(data_dir)}}}
        elif raw.data.source == "wfdb":
            overrides = {"data": {"manifest": {"record_dir": str(data_dir)}}}
    return load_config(config, profile=profile, overrides=overrides)


def parse_int_list(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from None


def threads_option(fn: F) -> F:
    """--threads: torch (and ONNX Runtime) CPU threads for this command."""
    return click.option(
        "--threads", type=click.IntRange(min=1), default=None,
        help="CPU threads for torch/ONNX (default: the CPUs available to this process, "
             "at most 8).")(fn)


def apply_threads(threads: int | None) -> int:
    """Set torch's threads to ``threads`` (default: available CPUs, capped); returns it."""
    from ensembler.utils.threads import set_torch_threads

    return set_torch_threads(threads)


@contextlib.contextmanager
def locked_context(cfg: RunConfig, run_dir: Path | None, progress: bool = True,
                   shared: bool = False) -> Iterator[RunContext]:
    """The run context with its run directory locked for the ``with`` block (nothing is
    written into the directory before the lock is held); ``shared`` for tuning workers
    that share one study."""
    from ensembler.pipeline.context import RunContext, check_run_dir
    from ensembler.utils.runlock import hold_run_lock

    rd = Path(run_dir) if run_dir else cfg.resolved_run_dir()
    check_run_dir(rd)  # before the lock file: never write into a user's folder
    with hold_run_lock(rd, shared=shared) as lock:
        ctx = RunContext.create(cfg, rd, progress=progress)
        ctx.lock_token = lock.token
        yield ctx


def open_run(cfg: RunConfig, run_dir: Path | None, progress: bool = True,
             shared: bool = False) -> RunContext:
    """:func:`locked_context` held until the current command ends."""
    return click.get_current_context().with_resource(
        locked_context(cfg, run_dir, progress, shared))


def quiet_option(fn: F) -> F:
    """--quiet: no stage headers or progress display (per-epoch lines still go to the log)."""
    return click.option("--quiet", is_flag=True,
                        help="Only the result: no stage headers or progress display "
                             "(per-epoch lines still go to RUN_DIR/logs/training.log).")(fn)
