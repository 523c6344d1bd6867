"""The diversity stage: why the stack helps or not, from development OOF only.

Writes ``diversity/diversity.json`` (a :class:`~ensembler.report.diversity.DiversityPanel`):
within-class correlation of the members' log-odds, each member's drop-one effect on the
nested estimate (the nested stacking study rerun without it, with a paired patient
bootstrap CI), the greedy selection path and the shipped stack's member contributions.
No test label is read. Keyed by the stacking stage, ``report.diversity``, the bootstrap
size and the seed.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ensembler.evaluation import paired_delta_from_samples, patient_weights, weighted_auc
from ensembler.evaluation._checks import evaluable_classes
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.stack import PRIMARY, level1_data, load_fitted, load_member_predictions
from ensembler.pipeline.stage import Stage
from ensembler.report.diversity import (
    ContributionBlock,
    CorrelationBlock,
    DiversityPanel,
    DropOneBlock,
    DropOneRow,
    GreedyBlock,
    GreedyStep,
    Num,
)
from ensembler.report.diversity_blocks import gain_sentence
from ensembler.utils.atomic import write_json

__all__ = ["diversity_panel", "diversity_stage", "fold_mean_auc_samples", "run_diversity"]

ALPHA = 0.05


def fold_mean_auc_samples(y: NDArray[Any], p: NDArray[np.float64], folds: NDArray[np.integer],
                          weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """(B,) the nested statistic per resample: mean over folds of the fold's macro AUC.

    Each fold's macro AUC averages the classes with both labels in that fold (as the
    nested estimate does); a resample that loses one of them in a fold is NaN.
    """
    per_fold = []
    for k in np.unique(folds):
        rows = folds == k
        ok = evaluable_classes(y[rows])
        per_fold.append(weighted_auc(y[rows][:, ok], p[rows][:, ok], weights[:, rows])
                        .mean(axis=1))
    return np.mean(per_fold, axis=0)


def _correlation(data: Any) -> list[CorrelationBlock]:
    from stacking import within_class_correlation

    return [CorrelationBlock(c.name, c.n_pos, c.n_neg, c.positives.tolist(),
                             c.negatives.tolist(), c.unconditional.tolist())
            for c in within_class_correlation(data)]


def _scores(nested: Any) -> NDArray[np.float64]:
    """The nested out-of-fold scores (``stacking.nested_cv`` always keeps them)."""
    if nested.oof is None:
        raise RuntimeError("a nested-CV result without out-of-fold scores")
    return np.asarray(nested.oof)


def _drop_one(data: Any, settings: dict[str, Any], n_trials: int, stacking_trials: int,
              reference: Any, n_boot: int, seed: int) -> DropOneBlock:
    """Every member's drop-one effect with a paired patient-bootstrap CI."""
    from stacking import drop_one

    t0 = time.perf_counter()
    res = drop_one(data, n_trials, seed=seed, reference=reference, **settings)
    w = patient_weights(data.groups, n_boot, seed)
    ref_samples = fold_mean_auc_samples(data.y, _scores(res.reference), data.folds, w)
    rows = []
    for m in data.members:
        nested = res.without[m]
        d = paired_delta_from_samples(
            res.reference.mean, nested.mean, ref_samples,
            fold_mean_auc_samples(data.y, _scores(nested), data.folds, w), ALPHA)
        rows.append(DropOneRow(m, nested.mean, d.delta, d.lo, d.hi, d.p_value,
                               res.seconds[m]))
    return DropOneBlock(n_trials, stacking_trials, res.reference.mean, n_boot, rows,
                        time.perf_counter() - t0)


def _greedy(data: Any, spec: Any, seed: int) -> list[GreedyBlock]:
    from stacking import greedy_path

    return [GreedyBlock(g.name, [GreedyStep(m, score) for m, score in g.steps], g.best_step,
                        g.weights, g.metric)
            for g in greedy_path(data, spec, seed)]


def _contributions(fitted: Any, data: Any) -> list[ContributionBlock]:
    from stacking import member_contributions

    return [ContributionBlock(c.name, dict[str, Num](c.share), dict[str, Num](c.mean_abs),
                              c.weights, c.scale, c.method)
            for c in member_contributions(fitted, data)]


def diversity_panel(data: Any, shipped: Any, shipped_name: str, greedy_spec: Any, *,
                    settings: dict[str, Any], n_trials: int, stacking_trials: int,
                    seed: int, n_boot: int, drop_one: bool = True,
                    reference: Any = None) -> DiversityPanel:
    """The panel of a :class:`stacking.Level1Data` (arrays only; the stage adds the files).

    ``shipped``: the shipped :class:`stacking.FittedStack`; ``greedy_spec``: the greedy
    ensemble-selection spec; ``settings``: the joint study's ``learners``,
    ``transforms``, ``passthrough`` and ``n_jobs``; ``reference``: the nested result of
    the stacking stage when it was run with ``n_trials`` (else recomputed).
    """
    skipped = None
    if not drop_one:
        skipped = "report.diversity.drop_one is off"
    elif len(data.members) < 2:
        skipped = "the run has a single member"
    elif data.n_folds < 3:
        skipped = f"nested CV needs at least 3 folds, the run has {data.n_folds}"
    block = None if skipped else _drop_one(data, settings, n_trials, stacking_trials,
                                           reference, n_boot, seed)
    return DiversityPanel(
        members=list(data.members), correlation=_correlation(data), drop_one=block,
        greedy_stack="greedy", greedy=_greedy(data, greedy_spec, seed),
        shipped_stack=shipped_name, shipped_label=shipped.spec.label(),
        contributions=_contributions(shipped, data), drop_one_skipped=skipped,
        sentence=gain_sentence(block, skipped))


def _reference(run_dir: Path, n_trials: int) -> Any:
    """The stacking stage's own nested result, when it ran with ``n_trials`` trials."""
    from stacking import NestedCVResult, StackSpec

    path = run_dir / "stack" / "nested_oof.npz"
    if not path.is_file():
        return None
    with np.load(path) as z:
        if int(z["trials"]) != n_trials:
            return None
        oof = np.asarray(z["oof"], dtype=np.float64)
    nested = json.loads((run_dir / "stack" / "study.json").read_text())[PRIMARY]["nested"]
    return NestedCVResult(nested["mean"], nested["sd"], nested["fold_aucs"],
                          [StackSpec.from_dict(s) for s in nested["specs"]], oof)


def _compute(ctx: RunContext) -> tuple[DiversityPanel, dict[str, Any]]:
    from sklearn.exceptions import ConvergenceWarning

    cfg = ctx.cfg
    data = level1_data(ctx, load_member_predictions(ctx))
    selected = json.loads((ctx.run_dir / "stack" / "selected.json").read_text())["name"]
    stacking_trials = int(json.loads((ctx.run_dir / "stack" / "stage.json").read_text())
                          .get("trials", cfg.stacking.trials))
    n_trials = cfg.report.diversity.drop_one_trials or stacking_trials
    settings = dict(learners=cfg.stacking.learners, transforms=cfg.stacking.transforms,
                    passthrough=cfg.stacking.passthrough, n_jobs=cfg.stacking.n_jobs)
    with warnings.catch_warnings():  # as in the stacking stage: strong L1 trials stop early
        warnings.simplefilter("ignore", ConvergenceWarning)
        panel = diversity_panel(
            data, load_fitted(ctx.run_dir, selected), selected,
            load_fitted(ctx.run_dir, "greedy").spec, settings=settings, n_trials=n_trials,
            stacking_trials=stacking_trials, seed=cfg.seed, n_boot=cfg.report.n_bootstrap,
            drop_one=cfg.report.diversity.drop_one,
            reference=_reference(ctx.run_dir, n_trials))
    write_json(ctx.run_dir / "diversity" / "diversity.json", panel.to_json_dict())
    return panel, {"sentence": panel.sentence}


def diversity_stage(ctx: RunContext) -> Stage[DiversityPanel]:
    """Keyed by the stacking stage, ``report.diversity``, the bootstrap size and the seed."""
    out = ctx.run_dir / "diversity" / "diversity.json"
    return Stage(
        "diversity", ctx.run_dir / "diversity" / "stage.json",
        inputs={"stacking": Stage.read_key(ctx.run_dir / "stack" / "stage.json"),
                "diversity config": ctx.cfg.report.diversity,
                "n_bootstrap": ctx.cfg.report.n_bootstrap, "seed": ctx.cfg.seed},
        run=lambda: _compute(ctx),
        load=lambda _: DiversityPanel.from_json_dict(json.loads(out.read_text()), str(out)),
        outputs=[out], say=ctx.say)


def run_diversity(ctx: RunContext) -> DiversityPanel | None:
    """The run's panel (None when ``report.diversity.enabled`` is off); skipped when current."""
    if not ctx.cfg.report.diversity.enabled:
        return None
    return diversity_stage(ctx).execute()
