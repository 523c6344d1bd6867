"""ensembler: stacked ensembles of deep ECG classifiers."""

from __future__ import annotations

__version__ = "0.1.0"

from typing import Any

__all__ = ["__version__", "load_bundle"]


def __getattr__(name: str) -> Any:
    """Lazy ``ensembler.load_bundle`` (importing ``ensembler`` must not import torch)."""
    if name == "load_bundle":
        from ensembler.bundle import load_bundle

        return load_bundle
    raise AttributeError(f"module 'ensembler' has no attribute {name!r}")
