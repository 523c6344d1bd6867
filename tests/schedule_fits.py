"""Count the fits the tuning stage's schedule step trains (shared by its tests)."""

from __future__ import annotations

from typing import Any

import pytest

from ensembler.tuning import objective as objective_mod
from ensembler.tuning import schedule as schedule_mod


def count_schedule_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The epochs of every fit the schedule step trains from now on, in order; each fit
    still runs (the real ``fit_and_score``), so reloaded schedules are the ones missing."""
    trained: list[int] = []
    real = objective_mod.fit_and_score

    def count(*a: Any, **k: Any) -> Any:
        trained.append(k["epochs"])
        return real(*a, **k)

    monkeypatch.setattr(schedule_mod, "fit_and_score", count)
    return trained
