"""Fixtures of the trainer tests."""

from __future__ import annotations

import pytest
from toydata import ToySplit, make_cohort, make_split

from ensembler.data.cohort import Cohort


@pytest.fixture
def cohort() -> Cohort:
    return make_cohort()


@pytest.fixture
def split(cohort: Cohort) -> ToySplit:
    return make_split(cohort)
