"""The ``metrics`` block of a bundle's ``manifest.json`` as dataclasses.

Built by :func:`ensembler.bundle.manifest.headline_from_report` (fold-average bundles: the
run's report) and :func:`ensembler.bundle.estimates.refit_full_headline` (refit-full
bundles: measured at export), written with :meth:`ManifestMetrics.to_json_dict` and read
back with :func:`manifest_metrics` by every reader (the model card, ``inspect``,
``evaluate``). The values reuse the classes of ``metrics.json``
(:mod:`ensembler.report.schema`); the file layout is the one bundles have always had.

One block, three variants, told apart by ``status`` (the fields a variant lacks are left
out of the file, see ``absent`` in :mod:`ensembler.utils.jsonclass`):

- not evaluated (``"not evaluated"``: no report; ``"not evaluated for this mode"``: no
  test set): ``status`` and ``reason`` only;
- from the report (``mode`` ``"fold-average"``; ``status`` ``"evaluated"``, or ``"stack
  not in the report"`` with ``stack`` null): the stack's and the baseline's rows, the
  leaderboard and the subgroups of ``metrics.json``;
- measured at export (``mode`` ``"refit-full"``): the stack's row (AUCs and operating
  point only), the report's leaderboard with a ``leaderboard_note``, no subgroups.

Reading checks every scalar against its type (a bundle is a file a user hands over): a
malformed block raises :class:`~ensembler.utils.jsonclass.SchemaError` naming
``manifest.json: metrics.<field>`` and what was expected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ensembler.report.schema import (
    CI,
    Calibration,
    DeltaCI,
    LatencyRow,
    LeaderboardRow,
    Metrics,
    OperatingPoints,
    Subgroups,
)
from ensembler.utils.jsonclass import SchemaError, from_json_dict, to_json_dict

__all__ = ["EVALUATED", "LeaderboardSummaryRow", "ManifestMetrics", "ManifestRow",
           "leaderboard_summary", "manifest_metrics"]

EVALUATED = "evaluated"
WHERE = "manifest.json: metrics"
#: fields of a report row that a row measured at export (refit-full) does not have
_REPORT_ONLY = ("calibration", "dev_oof_auc", "latency_ms", "n_params")


def _extra() -> dict[str, Any]:
    return {}


@dataclass(kw_only=True)
class ManifestRow:
    """The held-out numbers of the shipped stack (or of the baseline: ``name`` set).

    A row from the report carries its calibration, development AUC, latency and size too;
    a row measured at export only the AUCs and the operating point."""

    name: str | None = None
    test_auc: CI
    test_auc_per_class: dict[str, CI | None] | None = None
    operating_point: OperatingPoints | None = None
    calibration: Calibration | None = None
    dev_oof_auc: float | None = None
    latency_ms: dict[str, LatencyRow] | None = None
    n_params: int | None = None
    delta_vs_baseline: DeltaCI | None = None
    extra: dict[str, Any] = field(default_factory=_extra)
    absent: set[str] = field(default_factory=set, compare=False)  # see jsonclass

    @classmethod
    def from_report(cls, row: LeaderboardRow, name: str | None = None) -> ManifestRow:
        """``row`` of ``metrics.json`` as the manifest keeps it (``name``: the baseline's)."""
        return cls(name=name, test_auc=row.test_auc, test_auc_per_class=row.test_auc_per_class,
                   operating_point=row.operating_point, calibration=row.calibration,
                   dev_oof_auc=row.dev_oof_auc, latency_ms=row.latency_ms,
                   n_params=row.n_params, delta_vs_baseline=row.delta_vs_baseline,
                   absent=set() if name is not None else {"name"})

    @classmethod
    def measured(cls, test_auc: CI, test_auc_per_class: dict[str, CI | None],
                 operating_point: OperatingPoints) -> ManifestRow:
        """A row measured at export (no calibration, development AUC, latency or size)."""
        return cls(test_auc=test_auc, test_auc_per_class=test_auc_per_class,
                   operating_point=operating_point, absent={"name", *_REPORT_ONLY})


@dataclass
class LeaderboardSummaryRow:
    """One row of the report's leaderboard as the card's comparison table shows it."""

    name: str
    kind: str
    test_auc: CI
    dev_oof_auc: float | None
    dev_oof_auc_label: str | None
    extra: dict[str, Any] = field(default_factory=_extra)


def leaderboard_summary(metrics: Metrics | None) -> list[LeaderboardSummaryRow]:
    """The report's rows (none without a report): name, kind, test AUC, development AUC."""
    return [LeaderboardSummaryRow(name=r.name, kind=r.kind, test_auc=r.test_auc,
                                  dev_oof_auc=r.dev_oof_auc,
                                  dev_oof_auc_label=r.dev_oof_auc_label)
            for r in (metrics.leaderboard if metrics else [])]


@dataclass
class ManifestMetrics:
    """The whole ``metrics`` block (see the module docstring for its variants)."""

    status: str
    reason: str | None = None  # not evaluated: why
    mode: str | None = None  # fold-average (from the report) or refit-full
    source: str | None = None  # what the numbers were measured on
    thresholds_from: str | None = None
    stack: ManifestRow | None = None
    baseline: ManifestRow | None = None
    leaderboard: list[LeaderboardSummaryRow] = field(default_factory=list)
    leaderboard_note: str | None = None  # what the report's rows describe, when not this
    subgroups: Subgroups | None = None
    n_test: int | None = None
    n_test_patients: int | None = None
    extra: dict[str, Any] = field(default_factory=_extra)
    absent: set[str] = field(default_factory=set, compare=False)  # see jsonclass

    @classmethod
    def not_evaluated(cls, status: str, reason: str) -> ManifestMetrics:
        """A block without numbers: ``status`` and ``reason`` only."""
        return cls(status=status, reason=reason, absent={
            f.name for f in dataclasses.fields(cls)} - {"status", "reason", "extra", "absent"})

    @classmethod
    def measured(cls, *, status: str, mode: str, source: str, thresholds_from: str,
                 stack: ManifestRow | None, baseline: ManifestRow | None,
                 leaderboard: list[LeaderboardSummaryRow], subgroups: Subgroups | None,
                 n_test: int, n_test_patients: int,
                 leaderboard_note: str | None = None) -> ManifestMetrics:
        """A block with numbers (``leaderboard_note`` left out of the file when None)."""
        return cls(status=status, mode=mode, source=source, thresholds_from=thresholds_from,
                   stack=stack, baseline=baseline, leaderboard=leaderboard,
                   leaderboard_note=leaderboard_note, subgroups=subgroups, n_test=n_test,
                   n_test_patients=n_test_patients,
                   absent={"reason"} | ({"leaderboard_note"} if leaderboard_note is None
                                        else set()))

    @property
    def evaluated(self) -> bool:
        return self.status == EVALUATED

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON object of ``manifest.json``'s ``metrics`` (NaN as null)."""
        return to_json_dict(self)

    @classmethod
    def from_json_dict(cls, data: Any, where: str = WHERE) -> ManifestMetrics:
        """Read a parsed ``metrics`` block; errors name ``where`` and the field's path."""
        out = from_json_dict(cls, data, where, strict=True)
        if out.evaluated and out.stack is None:
            raise SchemaError(f"{where}.stack: null, expected the shipped stack's row "
                              f"(status is {EVALUATED!r})")
        return out


def manifest_metrics(manifest: Mapping[str, Any], where: str = "manifest.json"
                     ) -> ManifestMetrics | None:
    """The ``metrics`` block of a parsed manifest (``where`` names the file), None when
    the manifest has none."""
    block = manifest.get("metrics")
    return None if block is None else ManifestMetrics.from_json_dict(block, f"{where}: metrics")
