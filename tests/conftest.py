"""Session-wide test settings: one torch thread per process keeps the 2-core CI quiet."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch

torch.set_num_threads(1)


# Fixtures that train a real run (synthetic cohort -> trainer -> stacking): every test that
# uses one is slow, so `make test-fast` skips it and `make test` runs it.
SLOW_FIXTURES = frozenset({"tiny_run"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def _test_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No test writes to the user's real test-read ledger (~/.local/state/ensembler): the
    whole session, CLI subprocesses included, counts its reads in a temporary file
    (session scope, so module- and session-scoped fixtures that compare are covered too)."""
    from ensembler.report.ledger import ENV

    path = tmp_path_factory.mktemp("ledger") / "test_reads.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV, str(path))
        yield path
