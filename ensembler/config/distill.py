"""Config of the distillation stage: one network trained on a stack's meta-level OOF."""

from __future__ import annotations

from pydantic import Field

from ensembler.config.base import Section


class DistillConfig(Section):
    """``distill:`` in a run config adds the distillation stage (docs/sections/distill.md)."""

    # student: a registry architecture or a models[] entry name (its params and fusion);
    # null: the architecture of the run's best single member (chosen on development OOF)
    student: str | None = None
    # stack: the teacher, a stack name of the run; null: the shipped stack (export.stack)
    stack: str | None = None
    # alpha: weight of the soft-target BCE; 1 - alpha weighs the hard-label BCE
    alpha: float = Field(0.7, ge=0, le=1)
    # temperature: T > 1 softens student logits and teacher targets (soft term scaled by T^2)
    temperature: float = Field(1.0, gt=0)
    # single: besides the K fold students (averaged on test), one student on all
    # development data for the median best epoch of the fold students
    single: bool = True
