"""Feature members in a bundle: the feature-set spec as JSON, the learner as LightGBM text
or JSON.

Layout of a feature member ``<m>`` (kind ``features``)::

    members/<m>/feature_set.json         registry name or import path, parameters, the
                                         feature set's spec (name, version), its columns,
                                         the tabular columns appended, library versions
    members/<m>/fold_<k>/booster_<c>.txt learner lightgbm: LightGBM's own text model, one
                                         per class
    members/<m>/fold_<k>/logistic.json   learner logistic: medians, means, scales,
                                         coefficients and intercepts (one row per class)

Nothing here runs code from the bundle: the feature set is rebuilt from the installed
registry (or from a ``module.path:callable`` the *loading* user allowed with
``--allow-arch`` / ``--allow-feature-set``, exactly like a user architecture), and the
rebuilt set must report the same spec (name, version, parameters) and columns as the
one the learner was trained on. LightGBM text and the JSON are parsed, not executed. At prediction
the features are computed from the bundle's preprocessed signals by
:func:`ensembler.features.compute.feature_rows`, the function the run's feature cache
used, so a bundle scores a record exactly as the fold models did.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ensembler.errors import BundleIntegrityError, ConfigError, StageError
from ensembler.features import create_feature_set
from ensembler.features.compute import feature_rows
from ensembler.features.registry import FeatureSet, list_feature_sets
from ensembler.training.feature_learners import (
    BoosterModel,
    FeatureLearner,
    learner_files,
    parse_learner,
)
from ensembler.training.feature_member import learner_input

if TYPE_CHECKING:
    from ensembler.training.member_meta import MemberMeta

KIND = "features"
SPEC_FILE = "feature_set.json"


def is_feature_entry(entry: Mapping[str, Any]) -> bool:
    """Is this manifest member entry a feature member?"""
    return entry.get("kind") == KIND


def entry_files(entry: Mapping[str, Any]) -> list[str]:
    """Every bundle file a feature member's manifest entry names."""
    return [entry["feature_set_file"], *(f for m in entry["models"] for f in model_files(m))]


def model_files(model: Mapping[str, Any]) -> list[str]:
    """The bundle files of one fold model entry (``boosters`` or ``logistic``)."""
    return list(model["boosters"]) if "boosters" in model else [model["logistic"]]


# --------------------------------------------------------------------------- export


def feature_member_entry(name: str, meta: MemberMeta, fold_dirs: Sequence[Path],
                         n_params: int, tmp: Path, n_classes: int) -> dict[str, Any]:
    """Copy member ``name``'s fold learners into bundle folder ``tmp``; its manifest entry.

    ``meta``: the member's predictions meta (``config``, ``feature_set``,
    ``feature_versions``, ``feature_columns``, ``tabular_names``: the tabular columns the
    boosters read after the feature set's own).
    """
    cfg = meta.config
    columns = list(meta.feature_columns or [])
    n_feat = len(columns) - len(meta.tabular_names or [])
    doc = {"feature_set": cfg["feature_set"], "params": cfg.get("feature_params", {}),
           "spec": meta.feature_set, "columns": columns[:n_feat],
           "tabular_names": columns[n_feat:], "versions": meta.feature_versions}
    rel = f"members/{name}"
    (tmp / rel).mkdir(parents=True)
    (tmp / rel / SPEC_FILE).write_text(json.dumps(doc, indent=1))
    learner = str(cfg.get("learner", "lightgbm"))
    models = []
    for d in fold_dirs:
        (tmp / rel / d.name).mkdir()
        copied = []
        for src in learner_files(d, learner, n_classes):
            if not src.is_file():
                raise StageError(f"{src}: missing; the fold job of feature member {name!r} "
                                 "did not finish")
            shutil.copyfile(src, tmp / rel / d.name / src.name)
            copied.append(f"{rel}/{d.name}/{src.name}")
        models.append({"label": d.name, "boosters": copied} if learner == "lightgbm"
                      else {"label": d.name, "logistic": copied[0]})
    return {"name": name, "kind": KIND, "learner": learner, "arch": None, "fusion": "none",
            "feature_set_name": cfg["feature_set"], "feature_set": meta.feature_set,
            "feature_set_file": f"{rel}/{SPEC_FILE}",
            "feature_versions": meta.feature_versions, "tabular_names": doc["tabular_names"],
            "window": None, "stride": None, "aggregate": None, "n_params": n_params,
            "models": models}


def own_feature_sets(metas: Sequence[MemberMeta]) -> list[str]:
    """The run's own ``module:callable`` feature sets (the exporter computed them)."""
    return sorted({str(m.config["feature_set"]) for m in metas
                   if ":" in str(m.config["feature_set"])})


# --------------------------------------------------------------------------- load


def check_feature_set(entry: Mapping[str, Any], allow: Collection[str], where: str) -> None:
    """Refuse, before any import, a feature set neither registered nor allowed."""
    fs_name = str(entry.get("feature_set_name", ""))
    if fs_name in list_feature_sets() or fs_name in allow:
        return
    if ":" in fs_name:
        raise BundleIntegrityError(
            f"{where}: member {entry.get('name')!r}: user feature set {fs_name!r} is not "
            f"registered and was not allowed; it is not imported (allow it explicitly, e.g. "
            f"--allow-feature-set {fs_name}, only if you trust that code)")
    raise BundleIntegrityError(f"{where}: member {entry.get('name')!r}: unknown feature set "
                               f"{fs_name!r}; registered: {list_feature_sets()}")


def rebuild_feature_set(doc: Mapping[str, Any], lead_names: Sequence[str],
                        allow: Collection[str], where: str) -> FeatureSet:
    """The installed feature set ``doc`` names, checked to be the one that was trained."""
    name = str(doc["feature_set"])
    check_feature_set({"name": where, "feature_set_name": name}, allow, where)
    try:
        fset = create_feature_set(name, allow_import=name in allow, **dict(doc["params"]))
    except ConfigError as exc:
        raise BundleIntegrityError(f"{where}: {exc}") from None
    if json.loads(json.dumps(fset.spec())) != doc["spec"]:
        raise BundleIntegrityError(
            f"{where}: the installed feature set {name!r} is {json.dumps(fset.spec())}, the "
            f"learner was trained on {json.dumps(doc['spec'])}; install the matching version")
    if list(fset.columns(lead_names)) != list(doc["columns"]):
        raise BundleIntegrityError(f"{where}: feature set {name!r} computes other columns "
                                   "than the learner was trained on")
    _warn_versions(doc.get("versions", {}), where)
    return fset


def _warn_versions(pinned: Mapping[str, str], where: str) -> None:
    for lib, want in pinned.items():
        try:
            have = version(lib)
        except PackageNotFoundError:
            have = "not installed"
        if have != want:
            warnings.warn(f"{where}: features were computed with {lib} {want}, {have} is "
                          "installed; predictions may differ from the run's", stacklevel=3)


@dataclass
class FeatureFoldModel:
    """One fold's learner (one model per class)."""

    label: str
    model: FeatureLearner

    @property
    def boosters(self) -> list[Any]:
        """The LightGBM boosters (learner ``lightgbm`` only)."""
        if not isinstance(self.model, BoosterModel):
            raise TypeError(f"{self.label}: a logistic feature model has no boosters")
        return self.model.boosters


@dataclass
class FeatureBundleMember:
    """A feature member of a loaded bundle: the feature set and one FeatureFoldModel per set."""

    name: str
    feature_set: FeatureSet
    lead_names: list[str]
    fs: float
    tabular_names: list[str]
    models: list[FeatureFoldModel] = field(default_factory=list)
    kind: str = KIND

    def features(self, signals: np.ndarray) -> np.ndarray:
        """(N, F) float32 features of preprocessed ``signals`` (N, leads, T)."""
        return feature_rows(self.feature_set, signals, self.fs, self.lead_names)

    def predict_sets(self, signals: np.ndarray, tabulars: Sequence[np.ndarray | None],
                     backend: str = "torch") -> np.ndarray:
        """(n_sets, N, C) probabilities; the features are computed once for all sets.

        ``tabulars``: per set, (N, len(tabular_names)) raw values or None; ``backend``
        is ignored (the learner runs in LightGBM or numpy).
        """
        feats = self.features(signals)
        return np.stack([fm.model.predict(learner_input(
            feats, tabulars[k] if self.tabular_names else None))
            for k, fm in enumerate(self.models)])


def load_feature_member(entry: Mapping[str, Any], files: Mapping[str, bytes],
                        lead_names: Sequence[str], fs: float, n_classes: int,
                        allow: Collection[str], source: str) -> FeatureBundleMember:
    """Rebuild a feature member from verified bytes (JSON spec, LightGBM text or JSON)."""
    where = f"{source}/{entry['feature_set_file']}"
    lost = [f for f in entry_files(entry) if f not in files]
    if lost:
        raise BundleIntegrityError(f"{source}/{lost[0]}: named by feature member "
                                   f"{entry['name']!r} but not a verified file of the bundle")
    doc = json.loads(files[entry["feature_set_file"]].decode("utf-8"))
    if doc["spec"] != entry["feature_set"]:
        raise BundleIntegrityError(f"{where}: feature-set spec differs from the manifest's")
    fset = rebuild_feature_set(doc, lead_names, allow, where)
    n_cols = len(doc["columns"]) + len(doc["tabular_names"])
    member = FeatureBundleMember(name=str(entry["name"]), feature_set=fset,
                                 lead_names=list(lead_names), fs=float(fs),
                                 tabular_names=list(doc["tabular_names"]))
    learner = str(entry.get("learner", "lightgbm"))
    for mdl in entry["models"]:
        paths = model_files(mdl)
        if learner == "lightgbm" and len(paths) != n_classes:
            raise BundleIntegrityError(f"{source}: member {entry['name']!r} {mdl['label']} has "
                                       f"{len(paths)} boosters, expected {n_classes}")
        texts = {Path(f).name: files[f].decode("utf-8") for f in paths}
        member.models.append(FeatureFoldModel(mdl["label"], parse_learner(
            learner, texts, n_cols, n_classes, f"{source}/{paths[0]}")))
    return member
