"""The member-mode evidence stage: a development-only learning curve per chosen member.

A fold model sees only the fold's training part — (K−1)/K of the development patients,
less its inner early-stopping split — while a refit-full model sees them all. Whether
more patients still help is measured on development data alone: every fold model of each
member in ``export.mode_evidence`` is retrained on nested random shares
(``export.mode_evidence_fractions``, default 50 % and 75 %) of its fold's training
patients, by the member's own fold-training code (network jobs of
:mod:`ensembler.training.jobs`, feature-member folds of
:mod:`ensembler.training.feature_member`: same spec, seed and inner split rule, carved
from the share), and scored on the fold's out-of-fold rows. 100 % is the member's own
OOF. No test row is read, and no existing member is retrained.

Outputs: ``efficiency/member_mode_evidence.csv`` (:class:`~ensembler.report.mode_evidence.
ModeEvidence`) and ``.png`` beside it; the retrained fold models live in
``efficiency/mode_evidence/frac_<f>/<member>/fold_<k>/`` (each a resumable job), the
stage's record in ``efficiency/mode_evidence/stage.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ensembler.config import FeatureMemberEntry
from ensembler.errors import ConfigError, PredictionsError, StageError
from ensembler.evaluation import cluster_bootstrap, paired_delta_from_samples
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.stage import Stage
from ensembler.report.mode_evidence import (
    CSV,
    EvidencePoint,
    ModeEvidence,
    mode_evidence_figure,
    oof_digest,
)
from ensembler.training.feature_member import KIND as FEATURES
from ensembler.training.feature_member import fold_stage, member_inputs
from ensembler.training.inner import PatientSubset
from ensembler.training.jobs import FoldJob
from ensembler.training.predictions import MemberPredictions, assemble_oof
from ensembler.training.runner import run_jobs
from ensembler.utils.atomic import write_bytes
from ensembler.utils.runlock import JobGuard
from ensembler.utils.seeds import derive_seed

ROOT = Path("efficiency") / "mode_evidence"
FIELD = "export.mode_evidence"


def run_mode_evidence(ctx: RunContext, members: list[str] | None = None,
                      where: str = FIELD) -> ModeEvidence | None:
    """Write (or reuse) the learning curve of ``members`` (default ``export.mode_evidence``;
    ``where`` names the option they came from in errors); None when there are none."""
    cfg = ctx.cfg
    names = list(dict.fromkeys(members if members is not None else cfg.export.mode_evidence))
    if not names:
        return None
    preds = evidence_members(ctx, names, where)  # names checked before any data is loaded
    cohort, split = ctx.cohort, ctx.split
    subsets = [PatientSubset(f, derive_seed(cfg.seed, "member mode evidence"))
               for f in sorted(set(cfg.export.mode_evidence_fractions))]
    csv = ctx.run_dir / CSV
    png = csv.with_suffix(".png")

    def run() -> tuple[ModeEvidence, dict[str, Any]]:
        ev = _evidence(ctx, preds, subsets)
        ev.write_csv(csv)
        write_bytes(png, mode_evidence_figure(ev))
        return ev, {"members": names}

    def load(_: dict[str, Any]) -> ModeEvidence:
        ev = ModeEvidence.read_csv(csv)
        if ev is None:  # outputs are checked before load; a race with a deletion
            raise StageError(f"{csv} vanished; rerun `ensembler evidence`")
        return ev

    return Stage(
        "member mode evidence", ctx.run_dir / ROOT / "stage.json",
        inputs={"members": {n: p.meta.config for n, p in preds.items()},
                "oof": {n: oof_digest(p.oof) for n, p in preds.items()},
                "fractions": [s.fraction for s in subsets], "seed": cfg.seed,
                "cohort": cohort.fingerprint, "split": split.fingerprint,
                "inner": cfg.training.inner_val_fraction,
                "n_bootstrap": cfg.report.n_bootstrap},
        run=run, load=load, outputs=[csv, png], say=ctx.say).execute()


def evidence_members(ctx: RunContext, names: list[str], where: str = FIELD
                     ) -> dict[str, MemberPredictions]:
    """The trained predictions of ``names``, each a network or feature member of the config
    made on the run's current split (ConfigError naming ``where`` for any other name)."""
    cfg = ctx.cfg
    known = [n for m in cfg.models for n in m.member_names()] + \
        [f.name for f in cfg.feature_members]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"{where}: unknown members {unknown}; the config's network and "
                          f"feature members are: {', '.join(known) or 'none'}")
    paths = {name: ctx.run_dir / "predictions" / f"{name}.npz" for name in names}
    for name, path in paths.items():  # before the cohort is loaded
        if not path.is_file():
            raise StageError(f"{where}: member {name!r} has no {path}; train it first "
                             "(`ensembler train`)")
    out = {}
    dev = ctx.cohort.record_id[ctx.split.fold >= 0].astype(str)
    for name, path in paths.items():
        p = MemberPredictions.load(path)
        if not np.array_equal(p.dev_record_id, dev) or \
                p.meta.split_fingerprint not in (None, ctx.split.fingerprint):
            raise PredictionsError(f"{path}: made on another split than the run's; retrain it")
        out[name] = p
    return out


def _folder(subset: PatientSubset) -> str:
    return str(ROOT / f"frac_{subset.fraction:g}")


def _evidence(ctx: RunContext, preds: dict[str, MemberPredictions],
              subsets: list[PatientSubset]) -> ModeEvidence:
    """Retrain every fold model of every member at every share; score the curves."""
    cfg, cohort, split, run_dir = ctx.cfg, ctx.cohort, ctx.split, ctx.run_dir
    k = int(split.n_folds)
    jobs = [FoldJob(p.meta.spec, fold, cfg.seed, cohort.fingerprint, split.fingerprint,
                    root=_folder(s), subset=s)
            for p in preds.values() if p.meta.kind != FEATURES
            for s in subsets for fold in range(k)]
    run_jobs(jobs, cohort, split.fold, run_dir, cfg.training, ctx.progress,
             JobGuard.for_run(run_dir, ctx.lock_token), "member mode evidence")
    for p in preds.values():
        if p.meta.kind == FEATURES:
            _feature_folds(ctx, p, subsets)
    return ModeEvidence([pt for name, p in preds.items()
                         for pt in _member_curve(ctx, name, p, subsets)])


def _feature_folds(ctx: RunContext, p: MemberPredictions, subsets: list[PatientSubset]) -> None:
    """A feature member's fold learners at every share (its stored entry, cached features)."""
    cfg, cohort, split = ctx.cfg, ctx.cohort, ctx.split
    conf = p.meta.config
    entry = FeatureMemberEntry.model_validate(
        {k: v for k, v in conf.items() if k in FeatureMemberEntry.model_fields})
    table, x, names = member_inputs(entry, cohort, ctx.run_dir, list(p.meta.tabular_names or []),
                                    ctx.progress)
    for s in subsets:
        for fold in range(int(split.n_folds)):
            folder = ctx.run_dir / _folder(s) / entry.name / f"fold_{fold}"
            fold_stage(entry, cfg, cohort, split.fold, fold, x, names, folder,
                       split.fingerprint, table, ctx.progress, subset=s).execute()


def _member_curve(ctx: RunContext, name: str, p: MemberPredictions,
                  subsets: list[PatientSubset]) -> list[EvidencePoint]:
    """The member's points: each share's pooled OOF AUC [CI] and its paired gain to 100 %."""
    cfg, cohort, fold_vec = ctx.cfg, ctx.cohort, np.asarray(ctx.split.fold)
    dev = np.flatnonzero(fold_vec >= 0)
    y, groups = cohort.labels[dev], cohort.patient_id[dev]
    seed = derive_seed(cfg.seed, "member mode evidence", "bootstrap")
    full = cluster_bootstrap(y, p.oof, groups, n_boot=cfg.report.n_bootstrap, seed=seed)
    digest = oof_digest(p.oof)
    points = []
    for s in [*subsets, None]:
        oof = p.oof if s is None else _share_oof(ctx, name, s)
        ci = full if s is None else cluster_bootstrap(y, oof, groups,
                                                      n_boot=cfg.report.n_bootstrap, seed=seed)
        gain = paired_delta_from_samples(full.point, ci.point, full.samples, ci.samples)
        share, n_pat = _patients(fold_vec, cohort.patient_id, s)
        points.append(EvidencePoint(
            member=name, fraction=1.0 if s is None else s.fraction, dev_share=share,
            n_patients=n_pat, oof_auc=ci.point, oof_auc_lo=ci.lo, oof_auc_hi=ci.hi,
            gain_to_full=gain.delta, gain_lo=gain.lo, gain_hi=gain.hi, oof_digest=digest,
            n_folds=int(ctx.split.n_folds)))
        if ctx.progress:
            print(f"[member mode evidence] {name} at {points[-1].fraction:.0%} of each fold's "
                  f"training patients: OOF AUC {ci.point:.3f}")
    return points


def _share_oof(ctx: RunContext, name: str, subset: PatientSubset) -> np.ndarray:
    """(N_dev, C) OOF of the member's fold models retrained on ``subset``'s share."""
    fold_vec = np.asarray(ctx.split.fold)
    dev = np.flatnonzero(fold_vec >= 0)
    pos_in_dev = np.full(len(fold_vec), -1)
    pos_in_dev[dev] = np.arange(len(dev))
    rows, preds = {}, {}
    for fold in range(int(ctx.split.n_folds)):
        path = ctx.run_dir / _folder(subset) / name / f"fold_{fold}" / "preds.npz"
        with np.load(path, allow_pickle=False) as z:
            rows[fold], preds[fold] = pos_in_dev[z["oof_rows"]], z["oof"]
    return assemble_oof(name, len(dev), rows, preds)


def _patients(fold_vec: np.ndarray, groups: np.ndarray, subset: PatientSubset | None
              ) -> tuple[float, float]:
    """(mean share of development patients, mean patients) per fold model at ``subset``
    (None: the whole training part, as the member's own fold models)."""
    n_dev = len(np.unique(groups[fold_vec >= 0]))
    counts = []
    for fold in range(int(fold_vec.max()) + 1):
        part = np.flatnonzero((fold_vec >= 0) & (fold_vec != fold))
        rows = part if subset is None else subset.rows(part, groups, fold)
        counts.append(len(np.unique(groups[rows])))
    return float(np.mean(counts)) / n_dev, float(np.mean(counts))
