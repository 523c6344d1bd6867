"""How a bundle's members predict: one name list for config, CLI and bundle.

Kept free of heavy imports (no pydantic, numpy or torch) so that ``ensembler --help``
can offer the choices without loading the config package.
"""

from __future__ import annotations

from typing import Literal, get_args

#: the K fold models averaged, or the refit-full model
MemberMode = Literal["fold-average", "refit-full"]
MEMBER_MODES: tuple[str, ...] = get_args(MemberMode)

__all__ = ["MEMBER_MODES", "MemberMode"]
