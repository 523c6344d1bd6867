"""Has each member converged? The tuning stage's schedule step, one round, per member.

For each network member of a config (default: the PTB-XL CPU profile) this runs exactly
the schedule step of ``ensembler tune`` (:mod:`ensembler.tuning.schedule`), limited to one
comparison and without a hyper-parameter study: the member's configured schedule E and a
round(``--factor`` x E)-epoch one are trained on the tuning split's train part (each
keeping its best epoch on an inner patient-grouped split of it) and scored on the tuning
holdout -- development patients only, never the OOF folds' predictions nor the test set:

- macro-AUC of each schedule on the holdout and the paired patient-bootstrap 95 % CI of
  the difference (longer - configured);
- "converged" when that CI's lower bound is not above 0 (the step's rule: the longer
  schedule would not be adopted).

With one-cycle schedules "best epoch = last epoch" says nothing about convergence (the
learning rate anneals to zero at the end), hence this check. Needs $ENSEMBLER_PTBXL_DIR
for PTB-XL configs.

    .venv/bin/python bench/bench_convergence.py [--members plain_recipe,cnn_lstm]

``--start 'epochs=18,lr=0.01'`` checks the members from another starting point than
their configured one (e.g. a study's best trial: with the same seed, its E-epoch schedule
is that trial's model).

``--from-run RUN --extra-rounds N`` continues instead the schedule step a finished run
recorded (``RUN/hpo/schedule``) by N more rounds, e.g. for a member that stopped at
``max_rounds`` "not shown converged": the recorded schedules are copied into the work
folder and reloaded (the rounds already run must reproduce the recorded AUCs), only the
new, longer schedules are trained, and the run itself is left untouched.

    .venv/bin/python bench/bench_convergence.py --from-run runs/ptbxl_cpu4 --members s4d \
        --extra-rounds 1 --out bench/results/convergence_s4d.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import torch
import yaml
from _timing import ROOT, make_result, monitor_load, write_result
from pydantic import ValidationError

from ensembler.config import ModelEntry, RunConfig, load_config
from ensembler.config.training import TrainingOverride
from ensembler.data.cohort import Cohort
from ensembler.pipeline.context import RunContext
from ensembler.tuning.objective import TuningSplit, make_tuning_split
from ensembler.tuning.results import study_params
from ensembler.tuning.schedule import (
    ScheduleResult,
    read_schedule,
    run_schedule,
    schedule_basis,
    schedule_cache,
    schedule_member,
)
from ensembler.utils.seeds import derive_seed

PROFILE = ROOT / "configs" / "ptbxl_superdiag.yaml"


def member_row(res: ScheduleResult) -> dict[str, Any]:
    """The bench's record of one member's single schedule round."""
    r = res.rounds[0]
    return {"epochs": r.epochs, "epochs_longer": r.epochs_longer,
            "holdout_auc": r.auc, "holdout_auc_longer": r.auc_longer,
            "best_epoch": r.best_epochs, "best_epoch_longer": r.best_epochs_longer,
            "fit_s": r.fit_seconds, "fit_s_longer": r.fit_seconds_longer,
            "delta": r.delta, "delta_ci": [r.ci_low, r.ci_high],
            "n_scored": res.n_scored, "n_patients": res.n_patients,
            "converged": res.converged, "decision": res.decision}


def with_start(entry: ModelEntry, start: str) -> ModelEntry:
    """``entry`` with ``start`` ("field=value,...") over its training overrides, validated
    as the config validates them (a bad field or value exits naming it)."""
    if not start:
        return entry
    given = {k.strip(): yaml.safe_load(v) for k, v in
             (item.split("=", 1) for item in start.split(","))}
    try:
        training = TrainingOverride.model_validate(
            {**entry.training.model_dump(exclude_unset=True), **given})
    except ValidationError as err:
        sys.exit(f"--start {start!r}: {err.errors()[0]['loc']}: {err.errors()[0]['msg']}")
    return entry.model_copy(update={"training": training})


def continue_rounds(cfg: RunConfig, entry: ModelEntry, cohort: Cohort, tsplit: TuningSplit,
                    run: Path, work: Path, extra: int) -> tuple[ScheduleResult, dict[str, Any]]:
    """``entry``'s recorded schedule step in ``run``, continued by ``extra`` rounds with its
    settings otherwise unchanged; the recorded schedules are reloaded from a copy in
    ``work``. Refuses when a reloaded round does not reproduce the recorded AUCs."""
    recorded = read_schedule(run, entry.name)
    if recorded is None:
        sys.exit(f"{run}: no recorded schedule step for {entry.name!r} (hpo/schedule)")
    tuned = study_params(cfg, run).get(entry.name)
    basis = schedule_basis(cfg, entry, tuned)
    if basis != recorded.basis:
        sys.exit(f"{run}: the schedule step of {entry.name!r} was recorded from another "
                 "configuration (its basis differs from this config's)")
    folder, key = schedule_cache(run, entry.name, basis, tsplit)
    copy = work / "schedule" / entry.name
    copy.mkdir(parents=True, exist_ok=True)
    for npz in folder.glob(f"{key}-*.npz"):
        shutil.copy2(npz, copy / npz.name)
    settings = cfg.tuning.schedule.model_copy(
        update={"max_rounds": len(recorded.rounds) + extra})
    res = run_schedule(schedule_member(cfg, entry, cohort, tuned), cohort, tsplit,
                       settings, derive_seed(cfg.seed, "tune", entry.name), basis, print,
                       (copy, key))
    for old, new in zip(recorded.rounds, res.rounds, strict=False):
        if (old.auc, old.auc_longer) != (new.auc, new.auc_longer):
            sys.exit(f"{entry.name}: round {old.epochs}->{old.epochs_longer} reloaded as "
                     f"{new.auc:.6f}/{new.auc_longer:.6f}, recorded "
                     f"{old.auc:.6f}/{old.auc_longer:.6f}: not the run's schedules")
    last = res.rounds[-1]
    row = {"recorded_epochs": recorded.epochs, "recorded_decision": recorded.decision,
           "epochs": res.epochs, "converged": res.converged, "decision": res.decision,
           "rounds": [vars(r) for r in res.rounds],
           "new_rounds": len(res.rounds) - len(recorded.rounds),
           "n_scored": res.n_scored, "n_patients": res.n_patients}
    print(f"{entry.name:14s} {last.epochs:3d} ep {last.auc:.4f}  {last.epochs_longer:3d} ep "
          f"{last.auc_longer:.4f}  delta {last.delta:+.4f} [{last.ci_low:+.4f}, "
          f"{last.ci_high:+.4f}]  -> {res.decision}", flush=True)
    return res, row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(PROFILE))
    ap.add_argument("--members", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--factor", type=float, default=1.5, help="longer schedule / configured")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=None, help="folder for the cache")
    ap.add_argument("--out", default=None, help="result JSON (default bench/results/)")
    ap.add_argument("--start", default="",
                    help="training overrides of the checked members, e.g. 'epochs=18,lr=0.01' "
                         "(a study's best point); default: as configured")
    ap.add_argument("--from-run", type=Path, default=None,
                    help="continue this run's recorded schedule step (see the docstring)")
    ap.add_argument("--extra-rounds", type=int, default=1,
                    help="with --from-run: rounds beyond the recorded ones")
    args = ap.parse_args()
    cfg = load_config(args.config)
    if cfg.data.source == "ptbxl" and not os.environ.get("ENSEMBLER_PTBXL_DIR"):
        sys.exit("set ENSEMBLER_PTBXL_DIR to a PTB-XL copy")
    entries = [with_start(m, args.start) for m in cfg.models
               if not args.members or m.name in args.members.split(",")]
    torch.set_num_threads(args.threads)
    work = Path(args.work or tempfile.mkdtemp(prefix="conv-"))
    ctx = (RunContext(cfg=cfg, run_dir=args.from_run, progress=False) if args.from_run
           else RunContext.create(cfg, work, progress=False))
    c = ctx.cohort
    tsplit = make_tuning_split(cfg, c.labels, c.patient_id, ctx.split.fold, c.fingerprint)
    one_round = cfg.tuning.schedule.model_copy(
        update={"factor": args.factor, "max_rounds": 1, "n_bootstrap": 1000})
    per: dict[str, Any] = {}
    medians: dict[str, Any] = {}
    with monitor_load(interval=5.0) as mon:
        for entry in entries:
            if args.from_run:
                res, per[entry.name] = continue_rounds(cfg, entry, c, tsplit, args.from_run,
                                                       work, args.extra_rounds)
                for rnd in res.rounds[len(res.rounds) - args.extra_rounds:]:
                    medians[f"{entry.name}/{rnd.epochs_longer}"] = {
                        "wall_s": rnd.fit_seconds_longer}
                continue
            res = run_schedule(schedule_member(cfg, entry, c, None), c, tsplit, one_round,
                               derive_seed(cfg.seed, "tune", entry.name), log=print)
            r = per[entry.name] = member_row(res)
            medians[f"{entry.name}/E"] = {"wall_s": r["fit_s"]}
            medians[f"{entry.name}/longer"] = {"wall_s": r["fit_s_longer"]}
            lo, hi = r["delta_ci"]
            print(f"{entry.name:14s} E={r['epochs']:3d} holdout AUC {r['holdout_auc']:.4f}  "
                  f"{r['epochs_longer']:3d} ep {r['holdout_auc_longer']:.4f}  delta "
                  f"{r['delta']:+.4f} [{lo:+.4f}, {hi:+.4f}]  converged={r['converged']}",
                  flush=True)
    n_conv = sum(r["converged"] for r in per.values())
    factor = cfg.tuning.schedule.factor if args.from_run else args.factor
    out = Path(args.out) if args.out else None
    result = make_result(
        out.stem if out else "convergence", quick=False,
        command=" ".join(["python", *sys.argv]),
        headline={"label": f"members converged (a {factor}x longer schedule's tuning-"
                           "holdout AUC gain has a 95% CI reaching 0) / members checked",
                  "ratio": n_conv / max(len(per), 1), "better": "higher", "target": 1.0},
        medians=medians, load=mon.summary(args.threads),
        details={"config": str(args.config), "split": "tuning holdout (tuning.* settings)",
                 "factor": factor, "members": per, "start": args.start or "as configured",
                 **({"continued_from": str(args.from_run), "extra_rounds": args.extra_rounds}
                    if args.from_run else {})})
    write_result(result, out)


if __name__ == "__main__":
    main()
