"""Which model entries a tuning run covers: the one rule for ``run`` and ``tune``."""

from __future__ import annotations

from collections.abc import Sequence

from ensembler.config import FeatureMemberEntry, ModelEntry, RunConfig
from ensembler.errors import ConfigError
from ensembler.tuning.spaces.focus import check_search_only


def entries_to_tune(cfg: RunConfig, requested: Sequence[str] = ()) -> list[str]:
    """Names of the entries to tune (network entries and feature members), in order.

    ``requested`` (``ensembler tune --arch``) when given, else ``tuning.archs``, else every
    network entry and feature member: an empty ``tuning.archs`` means all, in
    ``ensembler run`` (when ``tuning.enabled``) exactly as in ``ensembler tune``. Unknown
    names raise :class:`ConfigError` listing the entries, and so does a
    ``tuning.search_only`` those entries cannot search.
    """
    known = [m.name for m in cfg.models] + [f.name for f in cfg.feature_members]
    names = list(requested) or list(cfg.tuning.archs) or known
    unknown = [n for n in names if n not in known]
    if unknown:
        where = "--arch" if requested else "tuning.archs"
        raise ConfigError(f"{where}: unknown model entries {', '.join(map(repr, unknown))}; "
                          f"entries: {', '.join(known) or 'none'}")
    if cfg.tuning.search:
        check_names(cfg, names)
    return names


def check_names(cfg: RunConfig, names: Sequence[str]) -> None:
    """``tuning.search_only`` checked against the entries ``names`` (see
    :func:`~ensembler.tuning.spaces.focus.check_search_only`)."""
    every: list[ModelEntry | FeatureMemberEntry] = [*cfg.models, *cfg.feature_members]
    entries = {e.name: e for e in every}
    check_search_only(cfg, [entries[n] for n in names])
