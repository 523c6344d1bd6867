"""Search-range tables for the docs, generated from the ranges the spaces sample.

``docs/build_readme.py`` writes these into docs/sections/models.md, tuning.md and
features.md, so the pages cannot drift from what ``ensembler tune`` searches: a family's
row is its registry ``ranges`` (:func:`base_models.family_ranges`, what
``get_model_info(arch)["ranges"]`` reports and what its space samples), the shared rows are
:data:`~ensembler.tuning.spaces.common.TRAINING_RANGES` and the fusion choices, the learner
rows :data:`~ensembler.tuning.spaces.features.LEARNER_RANGES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from base_models import family_ranges
from ensembler.tuning.spaces import list_spaces
from ensembler.tuning.spaces.common import FUSION_CHOICES, TRAINING_RANGES
from ensembler.tuning.spaces.features import LEARNER_RANGES

#: How to read a range; printed under every table.
LEGEND = ("`a–b`: whole numbers from a to b (with a decimal point: a float range); "
          "`log`: sampled on a log scale; `x/y/z`: one of those values.")


def _value(v: Any) -> str:
    """A bound or choice as a reader writes it: ``true``, ``16``, ``0.25``, ``1e-4``."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v and abs(v) < 0.01:
            mantissa, exponent = f"{v:e}".split("e")
            return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
        return repr(v)
    return str(v)


def describe(r: Mapping[str, Any]) -> str:
    """One range in the registry's format: ``16/32/64``, ``2–4``, ``1e-4–0.01, log``."""
    if "choices" in r:
        return "/".join(_value(c) for c in r["choices"])
    text = f"{_value(r['low'])}–{_value(r['high'])}"
    return f"{text}, log" if r.get("log") else text


def _params(ranges: Mapping[str, Mapping[str, Any]]) -> str:
    return "; ".join(f"`{name}` {describe(r)}" for name, r in ranges.items())


def family_table() -> str:
    """Markdown table: each family with a registered space and its searched parameters."""
    rows = ["| family | what `tune` searches (sampling order) |", "|---|---|"]
    rows += [f"| `{f}` | {_params(family_ranges(f))} |" for f in list_spaces()]
    return "\n".join(rows) + "\n\n" + LEGEND


def shared_table() -> str:
    """Markdown table: what every network study adds to its family's parameters, and each
    feature learner's parameters."""
    rows = ["| searched for | parameters (sampling order) |", "|---|---|",
            f"| every network member | {_params(TRAINING_RANGES)} |",
            f"| a fused network member (`fusion` not `none`) | `fusion` "
            f"{'/'.join(FUSION_CHOICES)} |"]
    rows += [f"| a feature member with `learner: {name}` | {_params(ranges)} |"
             for name, ranges in LEARNER_RANGES.items()]
    return "\n".join(rows) + "\n\n" + LEGEND


def learner_table() -> str:
    """Markdown table: one row per feature learner parameter."""
    rows = ["| learner | parameter | range |", "|---|---|---|"]
    rows += [f"| `{learner}` | `{name}` | {describe(r)} |"
             for learner, ranges in LEARNER_RANGES.items() for name, r in ranges.items()]
    return "\n".join(rows) + "\n\n" + LEGEND
