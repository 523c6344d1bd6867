"""What an export reads from a run directory: config, stack, member folders, predictions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ensembler.config import RunConfig, load_config
from ensembler.errors import StageError
from ensembler.member_modes import MEMBER_MODES
from ensembler.report.schema import Metrics, read_metrics
from ensembler.training.member_meta import MemberMeta
from ensembler.training.members import MemberSpec
from ensembler.training.predictions import MemberPredictions
from ensembler.utils.hashing import file_sha256
from stacking.model import FittedStack

__all__ = ["MEMBER_MODES", "MemberSource", "RunInputs", "member_source",
           "pipeline_test_predictions", "read_run", "resolve_run"]


@dataclass
class MemberSource:
    """One member's folders in the run and its predictions contract.

    ``spec``: a network member's spec (read from its predictions' meta, where it is
    stored once); None for a feature member, whose entry is ``meta.config``."""

    name: str
    kind: str  # "network" or "features" (MemberMeta.kind; distilled students: "network")
    spec: MemberSpec | None
    fold_dirs: list[Path]  # base/<m>/fold_<k>, k = 0..K-1
    full_dir: Path | None  # base/<m>/full when a refit-full model exists
    predictions: MemberPredictions
    n_params: int

    @property
    def meta(self) -> MemberMeta:
        return self.predictions.meta

    @property
    def tabular_names(self) -> list[str]:
        """The cohort's tabular columns the member reads."""
        if self.spec is not None:
            return list(self.spec.tabular_names)
        return list(self.meta.tabular_names or [])


@dataclass
class RunInputs:
    run_dir: Path
    cfg: RunConfig
    stack_name: str
    stack_dir: Path
    stack: FittedStack
    operating: dict[str, Any] | None
    selected: dict[str, Any]
    members: list[MemberSource]
    metrics: Metrics | None
    split_fingerprint: str | None
    provenance_extra: dict[str, str] = field(default_factory=dict)  # e.g. a student's targets

    @property
    def has_folds(self) -> bool:
        """Every member has its fold models (not so for a single-only distilled student)."""
        return all(m.fold_dirs for m in self.members)

    @property
    def has_refit(self) -> bool:
        return all(m.full_dir is not None and m.predictions.test_refit is not None
                   for m in self.members)


def resolve_run(target: str | Path) -> tuple[Path, RunConfig]:
    """RUN_DIR (holding ``config.resolved.yaml``) or a CONFIG file -> (run dir, config)."""
    p = Path(target)
    if p.is_dir():
        cfg_path = p / "config.resolved.yaml"
        if not cfg_path.is_file():
            raise StageError(f"{p}: not a run directory (no config.resolved.yaml)")
        raw = yaml.safe_load(cfg_path.read_text()) or {}
        return p, RunConfig.model_validate(raw)
    cfg = load_config(p)
    return cfg.resolved_run_dir(), cfg


def member_source(run_dir: Path, name: str) -> MemberSource:
    pred_path = run_dir / "predictions" / f"{name}.npz"
    if not pred_path.is_file():
        raise StageError(f"{pred_path}: predictions of member {name!r} missing; train it first")
    preds = MemberPredictions.load(pred_path)
    base = run_dir / "base" / name
    k = int(preds.fold.max()) + 1
    if preds.meta.kind == "features":
        return _feature_member(name, base, k, preds)
    if preds.meta.kind == "external" or not base.is_dir():
        raise StageError(f"member {name!r} has predictions but no trained weights under {base} "
                         "(an external member?); a bundle can only ship members it can run")
    folds = [base / f"fold_{i}" for i in range(k)]
    for d in folds:
        for f in ("weights.safetensors", "state.json", "meta.json"):
            if not (d / f).is_file():
                raise StageError(f"{d / f}: missing; the fold job of {name!r} did not finish")
    full = base / "full"
    full_ok = all((full / f).is_file() for f in ("weights.safetensors", "state.json"))
    return MemberSource(name=name, kind="network", spec=preds.meta.spec, fold_dirs=folds,
                        full_dir=full if full_ok else None, predictions=preds,
                        n_params=preds.meta.n_params)


def _feature_member(name: str, base: Path, k: int, preds: MemberPredictions) -> MemberSource:
    """A feature member: its fold folders hold LightGBM text boosters or a logistic JSON
    model (no refit-full)."""
    from ensembler.training.feature_learners import learner_files

    meta = preds.meta
    learner = str(meta.learner or "lightgbm")
    folds = [base / f"fold_{i}" for i in range(k)]
    for d in folds:
        needed = [d / "meta.json", *learner_files(d, learner, preds.oof.shape[1])]
        if not all(f.is_file() for f in needed):
            raise StageError(f"{d}: {learner} model missing; the fold job of {name!r} did not "
                             "finish")
    if meta.tabular_names is None:
        raise StageError(f"predictions/{name}.json: written by an older ensembler (no "
                         "tabular_names); re-run `ensembler train` to refresh it")
    return MemberSource(name=name, kind="features", spec=None, fold_dirs=folds, full_dir=None,
                        predictions=preds, n_params=meta.n_params)


def read_run(target: str | Path, stack: str | None = None) -> RunInputs:
    """Collect everything an export needs; StageError names what is missing."""
    run_dir, cfg = resolve_run(target)
    stack_root = run_dir / "stack"
    selected_path = stack_root / "selected.json"
    selected = json.loads(selected_path.read_text()) if selected_path.is_file() else {}
    name = stack or cfg.export.stack or selected.get("name")
    if not name:
        raise StageError(f"{stack_root}: no selected stack (selected.json) and no --stack given; "
                         "run `ensembler stack` first")
    if name.startswith("distilled:"):  # a student ships as a one-member bundle
        from ensembler.bundle.distilled import read_distilled

        return read_distilled(run_dir, cfg, name, _metrics(run_dir), _split_fp(run_dir))
    stack_dir = stack_root / name
    if not (stack_dir / "stack.json").is_file():
        have = sorted(p.name for p in stack_root.iterdir() if p.is_dir()) \
            if stack_root.is_dir() else []
        raise StageError(f"stack {name!r} not found in {stack_root}; available: {have}")
    fitted = FittedStack.load(stack_dir)
    op_path = stack_dir / "operating.json"
    operating = json.loads(op_path.read_text()) if op_path.is_file() else None
    members = [member_source(run_dir, m) for m in fitted.spec.members]
    return RunInputs(run_dir=run_dir, cfg=cfg, stack_name=name, stack_dir=stack_dir,
                     stack=fitted, operating=operating,
                     selected=selected if selected.get("name") == name else {},
                     members=members, metrics=_metrics(run_dir),
                     split_fingerprint=_split_fp(run_dir))


def _metrics(run_dir: Path) -> Metrics | None:
    path = run_dir / "report" / "metrics.json"
    return read_metrics(path) if path.is_file() else None


def _split_fp(run_dir: Path) -> str | None:
    path = run_dir / "split.json"
    if not path.is_file():
        return None
    return str(json.loads(path.read_text()).get("fingerprint") or file_sha256(path))


def pipeline_test_predictions(inp: RunInputs, tabular_test: np.ndarray | None,
                              mode: str) -> np.ndarray:
    """The run's own stacked test predictions (N_test, C) for a member mode."""
    if mode == "refit-full":
        preds = {m.name: np.asarray(m.predictions.test_refit) for m in inp.members}
        return inp.stack.predict_level0(preds, tabular_test)
    return inp.stack.predict_test({m.name: m.predictions.test_by_fold for m in inp.members},
                                  tabular_test)
