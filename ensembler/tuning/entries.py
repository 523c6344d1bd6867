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
    ``tuning.search_only`` the searched ones among them cannot search.
    """
    known = [m.name for m in cfg.models] + [f.name for f in cfg.feature_members]
    names = list(requested) or list(cfg.tuning.archs) or known
    unknown = [n for n in names if n not in known]
    if unknown:
        where = "--arch" if requested else "tuning.archs"
        raise ConfigError(f"{where}: unknown model entries {', '.join(map(repr, unknown))}; "
                          f"entries: {', '.join(known) or 'none'}")
    check_names(cfg, names)
    return names


def searched_entries(cfg: RunConfig, names: Sequence[str]) -> list[str]:
    """The entries of ``names`` that get an Optuna study (``tuning.search``: true, false
    or a list of entry names; see :meth:`~ensembler.config.tuning.TuningConfig.searches`)."""
    return [n for n in names if cfg.tuning.searches(n)]


def refuse_budget_without_study(cfg: RunConfig, names: Sequence[str], trials: int | None,
                                seconds: float | None) -> None:
    """ConfigError when ``--trials``/``--seconds`` are given but none of ``names`` is
    searched (the budget would have no study to apply to)."""
    if (trials is None and seconds is None) or searched_entries(cfg, names):
        return
    search = cfg.tuning.search
    if isinstance(search, list) and search:
        raise ConfigError(f"tuning.search lists {', '.join(search)}, none of the entries "
                          f"tuned here ({', '.join(names)}): --trials/--seconds have no "
                          "study to budget")
    raise ConfigError("tuning.search is false: --trials/--seconds have no study to "
                      "budget; set tuning.search: true to run trials")


def check_names(cfg: RunConfig, names: Sequence[str]) -> None:
    """``tuning.search_only`` checked against the searched entries of ``names`` (see
    :func:`~ensembler.tuning.spaces.focus.check_search_only`)."""
    every: list[ModelEntry | FeatureMemberEntry] = [*cfg.models, *cfg.feature_members]
    entries = {e.name: e for e in every}
    searched = searched_entries(cfg, names)
    if searched:
        check_search_only(cfg, [entries[n] for n in searched])
