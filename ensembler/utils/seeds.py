"""Seeds derived from names, never from scheduling order."""

from __future__ import annotations

import hashlib
import random

import numpy as np


def derive_seed(run_seed: int, *parts: object) -> int:
    """A 31-bit seed from the run seed and any identifying parts (model, replica, fold)."""
    text = "/".join([str(run_seed), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy's legacy global RNG and torch (when importable)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - third-party code may use it
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency of ensembler
        return
    torch.manual_seed(seed)
