"""Config of the distillation stage: one network trained on a stack's meta-level OOF."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ensembler.config.base import Section


class DistillConfig(Section):
    """``distill:`` in a run config adds the distillation stage (docs/sections/distill.md)."""

    # student: a registry architecture or a models[] entry name (its params and fusion);
    # null: the entry of the best single member (chosen on development OOF), or of the
    # best network member when the best single member is a feature or external member
    student: str | None = None
    # stack: the teacher, a stack name of the run; null: the shipped stack (export.stack)
    stack: str | None = None
    # alpha: weight of the soft-target BCE; 1 - alpha weighs the hard-label BCE
    alpha: float = Field(0.7, ge=0, le=1)
    # temperature: T > 1 softens student logits and teacher targets (soft term scaled by T^2)
    temperature: float = Field(1.0, gt=0)
    # fold_students: the K fold students (the fold-bag row, averaged on test); false: only
    # the single student, trained for `epochs` (no fold-bag row, no OOF, 1/(K+1) the cost)
    fold_students: bool = True
    # single: also one student on all development data, for the median best epoch of the
    # fold students (or `epochs` without fold students)
    single: bool = True
    # epochs: the single student's epochs when fold_students is false; null: the median
    # best epoch of the hard-label twin member's fold models (required without such a twin)
    epochs: int | None = Field(None, ge=1)
    # hard_twin: the student's network trained on hard labels only, to compare it with.
    # auto: a models[] member with exactly the student's spec (arch, params, fusion,
    # training) when there is one, else train the twin (alpha 0, same seeds and folds:
    # doubles the stage's training); always: train it; never: train none (a matching
    # member is still compared)
    hard_twin: Literal["auto", "always", "never"] = "auto"

    @model_validator(mode="after")
    def _something_to_train(self) -> DistillConfig:
        if not self.fold_students and not self.single:
            raise ValueError("distill.fold_students and distill.single are both false: "
                             "nothing to train; set one of them true")
        return self
