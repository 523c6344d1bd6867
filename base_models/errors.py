"""Exceptions of ``base_models`` (standalone: this package never imports ``ensembler``).

Each class also inherits the matching builtin, so callers may catch either
(``except KeyError`` / ``except ValueError`` / ``except TypeError``).
"""

from __future__ import annotations


class BaseModelsError(Exception):
    """Base class of every error raised by ``base_models`` on bad input."""


class UnknownModelError(BaseModelsError, KeyError):
    """A model name is neither registered nor an importable ``module.path:callable``."""

    def __str__(self) -> str:  # KeyError would repr() the message: keep it readable
        return str(self.args[0]) if self.args else ""


class UntrustedModelError(UnknownModelError):
    """A ``module.path:callable`` architecture that the caller did not allow to be imported."""


class DuplicateModelError(BaseModelsError, ValueError):
    """``register_model`` was called twice with the same name."""


class InvalidHParamError(BaseModelsError, ValueError):
    """An unknown hyper-parameter, or a value out of its valid range."""


class ModelInterfaceError(BaseModelsError, TypeError):
    """A (user) model lacks ``forward_features``/``forward_head``/``num_features``/
    ``min_length`` or returns logits of the wrong shape."""


class InputShapeError(BaseModelsError, ValueError):
    """A forward pass got a tensor of the wrong rank, lead count, length or width."""
