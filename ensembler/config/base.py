"""Shared pydantic base for config sections: unknown keys are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section; unknown fields are rejected so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True)
