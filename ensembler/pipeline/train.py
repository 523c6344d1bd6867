"""The training stage: tuned parameters in, member predictions out."""

from __future__ import annotations

from typing import Any

from ensembler.pipeline.context import RunContext
from ensembler.training.feature_member import train_feature_member
from ensembler.training.runner import (
    TrainSummary,
    member_specs,
    model_tabular_names,
    register_external,
    train_members,
)
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
    """Train (or reuse) every member's fold models (networks, then feature members) and
    register external members."""
    feature_names = {e.name for e in ctx.cfg.feature_members}
    net_only = [n for n in only or [] if n not in feature_names]
    tuned = tuned_parameters(ctx)
    specs = ([] if only and not net_only else
             member_specs(ctx.cfg, ctx.cohort, tuned, net_only or None))
    guard = JobGuard.for_run(ctx.run_dir, ctx.lock_token)
    summary = train_members(ctx.cfg, ctx.cohort, ctx.split, ctx.run_dir, specs, folds,
                            verbose=ctx.progress, guard=guard)
    tab = model_tabular_names(ctx.cfg, ctx.cohort)
    for entry in ctx.cfg.feature_members:
        if only and entry.name not in only:
            continue
        summary.predictions[entry.name] = train_feature_member(
            entry, ctx.cfg, ctx.cohort, ctx.split.fold, ctx.split.fingerprint, ctx.run_dir,
            tab, progress=ctx.progress, tuned=tuned.get(entry.name))
    for ext in ctx.cfg.external_members:
        summary.predictions[ext.name] = register_external(
            ext.name, ext.path, ctx.cohort, ctx.split, ctx.run_dir)
    return summary
