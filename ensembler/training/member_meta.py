"""``predictions/<member>.json``: what made a member's predictions, as one dataclass.

The member's spec is stored here, once (``config``): fold folders' ``meta.json`` record
what the fold job did (epochs, seconds, AUC), not the spec again, and every reader (bundle
export, latency, leaderboard rows, seed replicas) takes the spec from here.

``kind``: ``network`` (a base_models architecture), ``features`` (a feature set plus a
tabular learner), ``external`` (predictions registered from elsewhere), ``distilled``
(a network trained on a stack's meta-level OOF) or ``hard_twin`` (a student's network
trained on hard labels only, for comparison). Files written before ``kind`` existed
read as ``external`` when they name an external source, else ``network``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ensembler.errors import PredictionsError
from ensembler.training.members import MemberSpec, spec_from_description
from ensembler.utils.jsonclass import SchemaError, from_json_dict, to_json_dict

__all__ = ["MEMBER_KINDS", "MemberKind", "MemberMeta"]

MemberKind = Literal["network", "features", "external", "distilled", "hard_twin"]
MEMBER_KINDS: tuple[str, ...] = ("network", "features", "external", "distilled", "hard_twin")
#: Fields only some kinds have: left out of the file when unset.
_OPTIONAL = ("external", "learner", "feature_set", "feature_versions", "feature_columns",
             "tabular_names", "feature_cpu_ms_per_ecg", "targets", "alpha", "temperature",
             "oof_label",
             "fold_students", "epochs")


@dataclass
class MemberMeta:
    """A member's provenance and costs (``predictions/<member>.json``).

    Lists have one entry per fold model (``best_epoch``, ``train_seconds``,
    ``fold_oof_auc``, ``seeds``); ``refit_full`` is the refit-full job's meta or None.
    """

    member: str
    kind: str = "network"
    config: dict[str, Any] = field(default_factory=dict)  # the spec (see ``spec``)
    cohort_fingerprint: str | None = None
    split_fingerprint: str | None = None
    best_epoch: list[Any] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    fold_oof_auc: list[float | None] = field(default_factory=list)
    n_params: int = 0
    inference_ms_per_ecg: float = 0.0
    seeds: list[int] = field(default_factory=list)
    refit_full: dict[str, Any] | None = None
    tuned: bool = False
    external: str | None = None  # external: the file the predictions came from
    learner: str | None = None  # features: the tabular learner (lightgbm, logistic)
    feature_set: dict[str, Any] | None = None  # features: the feature set's spec
    feature_versions: dict[str, Any] | None = None
    feature_columns: list[str] | None = None  # the boosters' input columns, in order
    tabular_names: list[str] | None = None  # ... of which these are cohort columns
    feature_cpu_ms_per_ecg: float | None = None
    targets: str | None = None  # distilled: where the soft targets came from
    alpha: float | None = None
    temperature: float | None = None
    oof_label: str | None = None
    fold_students: bool | None = None  # a single-only student: False
    epochs: int | None = None  # ... and its fixed number of epochs
    extra: dict[str, Any] = field(default_factory=dict)

    def json_omit(self) -> set[str]:
        return {k for k in _OPTIONAL if getattr(self, k) is None}

    def to_json_dict(self) -> dict[str, Any]:
        return to_json_dict(self)

    @classmethod
    def from_json_dict(cls, data: dict[str, Any], where: str) -> MemberMeta:
        """Read a stored meta; a file without ``kind`` gets it from ``external``."""
        if "kind" not in data:
            data = {**data, "kind": "external" if data.get("external") else "network"}
        try:
            meta = from_json_dict(cls, data, where)
        except SchemaError as exc:
            raise PredictionsError(str(exc)) from None
        if meta.kind not in MEMBER_KINDS:
            raise PredictionsError(f"{where}.kind: {meta.kind!r}, expected one of "
                                   f"{list(MEMBER_KINDS)}")
        return meta

    @property
    def spec(self) -> MemberSpec:
        """The network member's spec (network, distilled and hard-twin members)."""
        if self.kind not in ("network", "distilled", "hard_twin"):
            raise PredictionsError(f"member {self.member!r} is a {self.kind} member: it has no "
                                   "network spec")
        return spec_from_description(self.config)

    @property
    def entry(self) -> str:
        """The config model entry the member was expanded from."""
        return str(self.config.get("entry", self.member))

    @property
    def replica(self) -> tuple[str, int]:
        """``("none", 0)``, ``("seed", i)`` or ``("bootstrap", i)``."""
        kind, index = self.config.get("replica") or ("none", 0)
        return str(kind), int(index)
