"""Cross-references of a run config, checked at load rather than when their stage runs.

Names refer to model entries and feature members (``tuning.archs``, ``tuning.search``), members
(``report.data_efficiency``, ``export.mode_evidence``), stacks (``export.stack``) and data columns
(``data.tabular``, ``stacking.passthrough``, ``report.subgroups``). The columns a source
provides are known without reading any record: the built-in sources' are fixed
(``ensembler.config.data``), an own-data manifest's are the ``data.manifest`` column
lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ensembler.config.issues import Issue, suggest

if TYPE_CHECKING:
    from ensembler.config import RunConfig


def _unknown(path: str, names: Sequence[str], valid: Sequence[str], what: str,
             listing: str) -> list[Issue]:
    """One issue per name of ``names`` that is not in ``valid`` (``listing``: "X has")."""
    shown = ", ".join(valid) if valid else "none"
    return [
        Issue(f"{path}[{i}]", f"unknown {what} {name!r}{suggest(name, valid)}; "
                              f"{listing}: {shown}")
        for i, name in enumerate(names)
        if name not in valid
    ]


def _source(cfg: RunConfig) -> str:
    data = cfg.data
    return "the manifest" if data.source == "wfdb" else f"the {data.source} source"


def check_references(cfg: RunConfig) -> list[Issue]:
    """Issues of every name in ``cfg`` that refers to something the run will not have."""
    entries = [m.name for m in cfg.models] + [f.name for f in cfg.feature_members]
    members = [n for m in cfg.models for n in m.member_names()]
    tabular = cfg.data.source_tabular()
    src = f"{_source(cfg)} has"
    issues = _unknown("tuning.archs", cfg.tuning.archs, entries,
                      "model entry or feature member", "the entries are")
    if isinstance(cfg.tuning.search, list):  # a list names tuned entries (archs, else all)
        tuned = cfg.tuning.archs or entries
        issues += _unknown("tuning.search", cfg.tuning.search, tuned, "tuned entry",
                           "the tuned entries are")
    issues += _unknown("report.data_efficiency", cfg.report.data_efficiency, members,
                       "network member", "the members are")
    issues += _unknown("export.mode_evidence", cfg.export.mode_evidence,
                       members + [f.name for f in cfg.feature_members],
                       "network or feature member", "the members are")
    stacks = cfg.stacking.stack_names()
    if cfg.export.stack is not None and cfg.export.stack not in stacks:
        issues.append(Issue("export.stack", f"unknown stack {cfg.export.stack!r}"
                                            f"{suggest(cfg.export.stack, stacks)}; the "
                                            f"run fits: {', '.join(stacks)}"))
    issues += _unknown("data.tabular", cfg.data.tabular or [], tabular, "tabular column", src)
    issues += _unknown("stacking.passthrough", cfg.stacking.passthrough, tabular,
                       "tabular column", src)
    issues += _unknown("report.subgroups", cfg.report.subgroups, cfg.data.source_subgroups(),
                       "subgroup column", src)
    offered = tabular if cfg.data.tabular is None else cfg.data.tabular
    for i, entry in enumerate(cfg.models):
        if entry.fusion != "none" and not offered:
            issues.append(Issue(f"models[{i}].fusion", f"{entry.fusion!r} fusion needs tabular "
                                f"columns, but none are offered to models (data.tabular; "
                                f"{src}: {', '.join(tabular) or 'none'})"))
    return issues


def fused_width(cfg: RunConfig) -> int:
    """How many tabular columns a fused model gets (``data.tabular`` or all of the source)."""
    return len(cfg.data.source_tabular() if cfg.data.tabular is None else cfg.data.tabular)
