"""What ``ensembler run``/``train`` show while they work.

The terminal gets one rich progress display over the (member x fold) training jobs
(done/total, elapsed, ETA), however many run in parallel; per-epoch lines go to
``<run_dir>/logs/training.log`` instead of interleaving on the terminal. ``--quiet``
turns the display off (the log file is still written).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")

LOG_DIR = "logs"
TRAINING_LOG = "training.log"


@dataclass(frozen=True)
class LogFile:
    """Appends timestamped lines to a log file; picklable, so worker processes get it.

    Each line is one ``write`` on a file opened with ``O_APPEND``, so lines of parallel
    jobs do not tear each other."""

    path: Path

    @classmethod
    def training(cls, run_dir: Path) -> LogFile:
        return cls(Path(run_dir) / LOG_DIR / TRAINING_LOG)

    def __call__(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{os.getpid()}] {line}\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


@contextlib.contextmanager
def job_progress(total: int, what: str, enabled: bool = True,
                 log: LogFile | None = None) -> Iterator[Callable[[str], None]]:
    """A progress display over ``total`` jobs; yields ``done(label)`` to call per finished
    job. Disabled: nothing is shown (``done`` still writes to ``log``)."""
    count = 0

    def note(label: str) -> None:
        nonlocal count
        count += 1
        if log is not None:
            log(f"{what}: {label} done ({count}/{total})")

    if not enabled:
        yield note
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("ETA"),
               TimeRemainingColumn(), TextColumn("[dim]{task.fields[last]}"))
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(what, total=total, last="")

        def done(label: str) -> None:
            note(label)
            bar.update(task, advance=1, last=f"last: {label}")

        yield done


class StageRunner:
    """Runs the named stages of ``ensembler run`` in order: a header per stage, torch's
    threads reset to ``threads`` before each (a stage never inherits what an earlier one
    left), and each stage's wall time in ``seconds``."""

    def __init__(self, names: list[str], console: Console, threads: int | None = None) -> None:
        self.names = names
        self.console = console
        self.threads = threads
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, fn: Callable[[], T]) -> T:
        from ensembler.utils.threads import set_torch_threads

        self.console.rule(f"[bold][{len(self.seconds) + 1}/{len(self.names)}] {name}")
        set_torch_threads(self.threads)
        t0 = time.perf_counter()
        value = fn()
        self.seconds[name] = time.perf_counter() - t0
        self.console.print(f"[dim]{name}: {self.seconds[name]:.1f} s[/dim]")
        return value
