"""A run's members rebuilt in memory from its run directory, as a bundle would rebuild them.

Networks: the architecture from the member's stored spec, each fold model's
safetensors weights and fitted state (``base/<m>/fold_<k>/``), the member's windows;
feature members: the installed feature set and each fold's learner (LightGBM text
boosters or the logistic JSON).
These are the objects :func:`ensembler.bundle.load_bundle` builds from the same files,
so the report explains the models the bundle ships (fold-average mode).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ensembler.bundle.feature_io import FeatureBundleMember, FeatureFoldModel
from ensembler.bundle.members import BundleMember, load_fold_model
from ensembler.bundle.run_inputs import MemberSource, member_source
from ensembler.errors import StageError
from ensembler.explain.core import Member
from ensembler.features import create_feature_set
from ensembler.training.loop import window_lengths

__all__ = ["load_run_members"]


def _network(src: MemberSource, n_leads: int, n_classes: int, fs: float,
             n_samples: int) -> BundleMember:
    spec = src.meta.spec
    win, stride = window_lengths(spec, fs, n_samples)
    own = [spec.arch] if ":" in spec.arch else []  # the run trained its own architecture
    member = BundleMember(spec=spec, window=win, stride=stride)
    for d in src.fold_dirs:
        member.models.append(load_fold_model(
            spec, d.name, (d / "weights.safetensors").read_bytes(),
            (d / "state.json").read_text(), n_leads, n_classes, str(d / "weights.safetensors"),
            own))
    return member


def _features(src: MemberSource, lead_names: Sequence[str], fs: float,
              n_classes: int) -> FeatureBundleMember:
    from ensembler.training.feature_learners import read_learner

    meta = src.meta
    cfg = meta.config
    name = str(cfg["feature_set"])
    fset = create_feature_set(name, allow_import=":" in name, **dict(cfg.get("feature_params")
                                                                     or {}))
    member = FeatureBundleMember(name=src.name, feature_set=fset, lead_names=list(lead_names),
                                 fs=float(fs), tabular_names=src.tabular_names)
    learner = str(meta.learner or cfg.get("learner", "lightgbm"))
    n_cols = len(meta.feature_columns or [])
    for d in src.fold_dirs:
        member.models.append(FeatureFoldModel(d.name, read_learner(d, learner, n_cols,
                                                                   n_classes)))
    return member


def load_run_members(run_dir: Path, names: Sequence[str], lead_names: Sequence[str], fs: float,
                     n_samples: int, n_classes: int) -> tuple[list[Member], dict[str, str]]:
    """The members ``names`` that can be rebuilt, and ``{member: why not}`` for the others
    (external predictions, members without weights)."""
    members: list[Member] = []
    skipped: dict[str, str] = {}
    for name in names:
        try:
            src = member_source(run_dir, name)
        except StageError as exc:
            skipped[name] = str(exc)
            continue
        if src.kind == "features":
            members.append(_features(src, lead_names, fs, n_classes))
        else:
            members.append(_network(src, len(lead_names), n_classes, fs, n_samples))
    return members, skipped
