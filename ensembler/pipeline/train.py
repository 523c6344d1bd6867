"""The training stage: tuned parameters in, member predictions out."""

from __future__ import annotations

from typing import Any

from ensembler.pipeline.context import RunContext
from ensembler.training.runner import TrainSummary, member_specs, register_external, train_members
from ensembler.utils.runlock import JobGuard


def tuned_parameters(ctx: RunContext) -> dict[str, dict[str, Any]]:
    """Best parameters of each tuned entry's study, when one exists (else empty)."""
    try:
        from ensembler.tuning.results import load_best_params
    except ImportError:  # tuning not installed in this build
        return {}
    return load_best_params(ctx.cfg, ctx.run_dir)


def run_training(
    ctx: RunContext, only: list[str] | None = None, folds: list[int] | None = None
) -> TrainSummary:
    """Train (or reuse) every member's fold models and register external members."""
    specs = member_specs(ctx.cfg, ctx.cohort, tuned_parameters(ctx), only)
    guard = JobGuard.for_run(ctx.run_dir, ctx.lock_token)
    summary = train_members(ctx.cfg, ctx.cohort, ctx.split, ctx.run_dir, specs, folds,
                            verbose=ctx.progress, guard=guard)
    for ext in ctx.cfg.external_members:
        summary.predictions[ext.name] = register_external(
            ext.name, ext.path, ctx.cohort, ctx.split, ctx.run_dir)
    return summary
