"""The ``stack.development_estimate`` and ``member_mode_test_auc`` blocks of a bundle's
``manifest.json`` as dataclasses.

Built by :func:`ensembler.bundle.estimates.development_estimate` and
:meth:`MemberModeTestAUC.of` (in :func:`ensembler.bundle.manifest.build_manifest`),
written with ``to_json_dict`` and read back with :func:`manifest_development_estimate` and
:func:`manifest_mode_auc` by the model card. The file layout is the one bundles have had
since the estimate was introduced.

Reading checks every scalar against its type (a bundle is a file a user hands over): a
malformed block raises :class:`~ensembler.utils.jsonclass.SchemaError` naming
``manifest.json: stack.development_estimate.<field>`` (or ``member_mode_test_auc.<field>``)
and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ensembler.utils.jsonclass import SchemaError, from_json_dict, to_json_dict

__all__ = ["KINDS", "DevelopmentEstimate", "MemberModeTestAUC",
           "manifest_development_estimate", "manifest_mode_auc"]

#: what a development estimate is: nested CV of a tuned stack, the meta-level OOF of a fixed
#: recipe, or none (a stack selected on its score without nested CV, a distilled student)
KINDS = ("nested_cv", "meta_oof", "none")
ESTIMATE_KEY = "development_estimate"
MODES_KEY = "member_mode_test_auc"
MODE_NOTE = "information only; the mode was chosen on development data"


def _extra() -> dict[str, Any]:
    return {}


@dataclass
class DevelopmentEstimate:
    """What the card quotes as the shipped stack's development macro AUC.

    ``mean``/``sd``/``fold_aucs``: the estimate over its folds (None/None/[] for ``kind``
    ``"none"``); ``label``: what the number is; ``inner_cv_auc``: the optimistic inner CV
    score the stack was selected on (None when nothing was selected on it), with its
    ``inner_cv_label``."""

    kind: str
    mean: float | None
    sd: float | None
    fold_aucs: list[float]
    label: str
    inner_cv_auc: float | None
    inner_cv_label: str | None
    extra: dict[str, Any] = field(default_factory=_extra)  # keys of a newer writer

    @classmethod
    def none(cls, label: str, inner_cv_auc: float | None = None,
             inner_cv_label: str | None = None) -> DevelopmentEstimate:
        """No unbiased estimate: only ``label`` (and the optimistic score, when any)."""
        return cls(kind="none", mean=None, sd=None, fold_aucs=[], label=label,
                   inner_cv_auc=inner_cv_auc, inner_cv_label=inner_cv_label)

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON object of ``manifest.json``'s ``stack.development_estimate`` (NaN as null)."""
        return to_json_dict(self)

    @classmethod
    def from_json_dict(cls, data: Any, where: str = f"manifest.json: stack.{ESTIMATE_KEY}"
                       ) -> DevelopmentEstimate:
        """Read a parsed block; errors name ``where`` and the field's path."""
        out = from_json_dict(cls, data, where, strict=True)
        if out.kind not in KINDS:
            raise SchemaError(f"{where}.kind: {out.kind!r}, expected one of {list(KINDS)}")
        if out.inner_cv_auc is not None and out.inner_cv_label is None:
            raise SchemaError(f"{where}.inner_cv_label: null, expected the label of "
                              "inner_cv_auc (what the score is)")
        return out


@dataclass
class MemberModeTestAUC:
    """Test macro AUC of each member mode the run has (None: no test set), information
    only: the mode shipped was chosen on development data."""

    values: dict[str, float | None]
    note: str
    extra: dict[str, Any] = field(default_factory=_extra)  # keys of a newer writer

    @classmethod
    def of(cls, values: Mapping[str, float | None]) -> MemberModeTestAUC:
        return cls(values=dict(values), note=MODE_NOTE)

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON object of ``manifest.json``'s ``member_mode_test_auc`` (NaN as null)."""
        return to_json_dict(self)

    @classmethod
    def from_json_dict(cls, data: Any, where: str = f"manifest.json: {MODES_KEY}"
                       ) -> MemberModeTestAUC:
        """Read a parsed block; errors name ``where`` and the field's path."""
        return from_json_dict(cls, data, where, strict=True)


def manifest_development_estimate(manifest: Mapping[str, Any], where: str = "manifest.json"
                                  ) -> DevelopmentEstimate:
    """The ``stack.development_estimate`` block of a parsed manifest (``where`` names the
    file)."""
    stack = manifest.get("stack")
    if not isinstance(stack, Mapping) or ESTIMATE_KEY not in stack:
        raise SchemaError(f"{where}: stack.{ESTIMATE_KEY}: missing (expected the shipped "
                          "stack's development estimate)")
    return DevelopmentEstimate.from_json_dict(stack[ESTIMATE_KEY],
                                              f"{where}: stack.{ESTIMATE_KEY}")


def manifest_mode_auc(manifest: Mapping[str, Any], where: str = "manifest.json"
                      ) -> MemberModeTestAUC:
    """The ``member_mode_test_auc`` block of a parsed manifest (``where`` names the file)."""
    if MODES_KEY not in manifest:
        raise SchemaError(f"{where}: {MODES_KEY}: missing (expected the test AUC of each "
                          "member mode)")
    return MemberModeTestAUC.from_json_dict(manifest[MODES_KEY], f"{where}: {MODES_KEY}")
