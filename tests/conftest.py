"""Session-wide test settings: one torch thread per process keeps the 2-core CI quiet."""

from __future__ import annotations

import os

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
