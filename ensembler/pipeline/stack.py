"""The stacking stage: level-1 data from member predictions, named and tuned stacks.

Writes ``stack/<name>/`` (a :class:`stacking.FittedStack`, JSON + LightGBM text)
with ``operating.json`` (per-class thresholds chosen on the stack's own meta-level
OOF predictions), ``stack/study.json`` + ``stack/trials.csv`` (the joint study) and
``stack/selected.json`` (the stack that is shipped) and ``stack/nested_oof.npz`` (the
joint study's nested out-of-fold scores, with nested CV on). Every choice here uses
development OOF only; the test predictions are computed but never looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ensembler.config.stacking import PRIMARY_STACK, SOLO_TUNED
from ensembler.errors import StageError
from ensembler.evaluation import choose_threshold
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.stage import Stage
from ensembler.training.predictions import MemberPredictions, load_all
from ensembler.utils.atomic import atomic_dir, marked_by, save_npz, write_json, write_text

#: The stack shipped by default and named as the primary comparison in advance.
PRIMARY = PRIMARY_STACK
#: The stacks that are tuned with Optuna (the others are fixed recipes).
TUNED = (*(f"tuned_{learner}" for learner in SOLO_TUNED), PRIMARY)


@dataclass
class StackStage:
    names: list[str]
    selected: str
    skipped: bool
    study: dict[str, Any]


def load_member_predictions(ctx: RunContext) -> dict[str, MemberPredictions]:
    folder = ctx.run_dir / "predictions"
    preds = load_all(folder) if folder.is_dir() else {}
    if not preds:
        raise StageError(f"no member predictions in {folder}; run `ensembler train` first")
    return preds


def level1_data(ctx: RunContext, preds: dict[str, MemberPredictions]) -> Any:
    """The :class:`stacking.Level1Data` of the run (rows in the split's dev/test order)."""
    from stacking import Level1Data

    cohort, split = ctx.cohort, ctx.split
    dev = np.flatnonzero(split.fold >= 0)
    test = np.flatnonzero(split.fold == -1)
    for name, p in preds.items():
        if not np.array_equal(p.dev_record_id, cohort.record_id[dev].astype(str)):
            raise StageError(
                f"predictions/{name}.npz rows differ from the current split; retrain it")
    names = ctx.cfg.stacking.passthrough
    cols = [cohort.tabular_names.index(n) for n in names if n in cohort.tabular_names]
    missing = [n for n in names if n not in cohort.tabular_names]
    if missing:
        raise StageError(f"stacking.passthrough: unknown tabular columns {missing}; "
                         f"the cohort has {cohort.tabular_names}")
    tab = cohort.tabular[:, cols].astype(np.float64) if cols else None
    return Level1Data(
        members=sorted(preds),
        class_names=list(cohort.class_names),
        oof={m: p.oof for m, p in preds.items()},
        test_by_fold={m: p.test_by_fold for m, p in preds.items()},
        y=cohort.labels[dev].astype(np.int64),
        groups=cohort.patient_id[dev],
        folds=split.fold[dev],
        tabular_dev=None if tab is None else tab[dev],
        tabular_test=None if tab is None else tab[test],
        tabular_names=list(names),
        member_cost_ms={m: float(p.meta.inference_ms_per_ecg)
                        for m, p in preds.items()},
    )


def stacking_stage(ctx: RunContext, trials: int | None = None) -> Stage[StackStage]:
    """The stacking stage: keyed by the members' predictions and the stacking config."""
    from ensembler.utils.hashing import array_digest

    cfg = ctx.cfg
    n_trials = trials or cfg.stacking.trials
    preds = load_member_predictions(ctx)
    out = ctx.run_dir / "stack"
    return Stage(
        "stacking", out / "stage.json",
        inputs={"member predictions": {m: [array_digest(p.oof), array_digest(p.test_by_fold)]
                                       for m, p in preds.items()},
                "stacking config": cfg.stacking,
                "thresholds": [cfg.report.threshold, cfg.report.target_sensitivity],
                "trials": n_trials, "seed": cfg.seed},
        run=lambda: _fit_stacks(ctx, preds, n_trials),
        load=lambda rec: StackStage(rec["names"], rec["selected"], True, rec.get("study", {})),
        outputs=[out / "selected.json", out / "study.json"], say=ctx.say)


def run_stacking(ctx: RunContext, trials: int | None = None) -> StackStage:
    """Fit the named stacks and the tuned ones; skipped when nothing changed.

    scikit-learn ConvergenceWarnings are silenced here: the search visits strong L1
    penalties where saga stops at max_iter; such a trial is still scored honestly.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return stacking_stage(ctx, trials).execute()


def _fit_stacks(ctx: RunContext, preds: dict[str, MemberPredictions],
                n_trials: int) -> tuple[StackStage, dict[str, Any]]:
    from stacking import fit_stack, named_stacks, tune_stack

    cfg = ctx.cfg
    out = ctx.run_dir / "stack"
    data = level1_data(ctx, preds)
    specs = dict(named_stacks(data, seed=cfg.seed))
    common: dict[str, Any] = dict(
        n_trials=n_trials, seed=cfg.seed, transforms=cfg.stacking.transforms,
        passthrough=cfg.stacking.passthrough, n_jobs=cfg.stacking.n_jobs)
    studies: dict[str, Any] = {}
    learners = cfg.stacking.learners
    for learner in SOLO_TUNED:  # the names follow StackingConfig.stack_names()
        if learner in learners:
            studies[f"tuned_{learner}"] = tune_stack(
                data, learner=learner, nested_cv=False, study_name=f"tuned_{learner}", **common)
    joint = tune_stack(data, learners=learners, nested_cv=cfg.stacking.nested_cv,
                       multi_objective=cfg.stacking.multi_objective, study_name=PRIMARY,
                       **common)
    studies[PRIMARY] = joint
    for name, res in studies.items():
        specs[name] = res.best_spec
    methods = list(cfg.stacking.calibration)
    for name, spec in specs.items():
        fitted = fit_stack(data, spec, seed=cfg.seed, calibration_methods=methods)
        thr = choose_threshold(data.y, fitted.oof_, method=cfg.report.threshold,
                               target=cfg.report.target_sensitivity)
        with atomic_dir(out / name, marked_by("stack.json")) as tmp:
            fitted.save(tmp)
            write_json(tmp / "operating.json", {
                "thresholds": [None if not np.isfinite(t) else float(t) for t in thr],
                "method": cfg.report.threshold,
                "target_sensitivity": cfg.report.target_sensitivity,
                "chosen_on": "the stack's own meta-level out-of-fold predictions on "
                             "development data",
            })
    if joint.nested is not None and joint.nested.oof is not None:
        # the nested out-of-fold scores: the diversity panel's drop-one reference
        save_npz(out / "nested_oof.npz", oof=joint.nested.oof, trials=np.array(n_trials))
    else:
        (out / "nested_oof.npz").unlink(missing_ok=True)  # never a stale reference
    study_doc = {name: res.to_dict() for name, res in studies.items()}
    for name, res in studies.items():
        write_text(out / f"trials_{name}.csv", res.trials.to_csv(index=False))
    write_json(out / "study.json", study_doc)
    selected = cfg.export.stack or PRIMARY
    if selected not in specs:
        raise StageError(f"export.stack: {selected!r} is not a stack of this run; "
                         f"choose one of {sorted(specs)}")
    write_json(out / "selected.json", {
        "name": selected, "members": list(specs[selected].members),
        "chosen_on": "joint Optuna study, patient-grouped CV macro-AUC on development OOF",
    })
    names = list(specs)
    record = {"names": names, "selected": selected, "trials": n_trials,
              "study": {"joint_inner_best": joint.best_value,
                        "nested": study_doc[PRIMARY].get("nested")}}
    return StackStage(names, selected, False, study_doc), record


def load_fitted(run_dir: Path, name: str) -> Any:
    from stacking import FittedStack

    return FittedStack.load(run_dir / "stack" / name)
