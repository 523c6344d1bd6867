"""Exception hierarchy.

Every error the framework raises on bad input derives from :class:`EnsemblerError`
and from the matching builtin, so callers can catch either. Messages say what went
wrong, where (file, record, YAML path) and what was expected.
"""

from __future__ import annotations


class EnsemblerError(Exception):
    """Base class of every error raised by ensembler on bad input or state."""


class ConfigError(EnsemblerError, ValueError):
    """A run configuration is invalid; the message names the YAML path."""


class DataError(EnsemblerError, ValueError):
    """Input data (a record, a manifest, a label table) is missing or malformed."""


class BadRecordError(DataError):
    """One WFDB record cannot be used; ``record`` names it, ``reason`` says why."""

    def __init__(self, record: str, reason: str) -> None:
        super().__init__(f"record {record!r}: {reason}")
        self.record = record
        self.reason = reason


class SplitError(EnsemblerError, ValueError):
    """A split violates patient grouping (a patient on two sides) or is malformed."""


class PredictionsError(EnsemblerError, ValueError):
    """Out-of-fold / test prediction files break the level-1 contract."""


class BundleIntegrityError(EnsemblerError, ValueError):
    """A frozen bundle failed verification; the message names the offending file."""


class StageError(EnsemblerError, RuntimeError):
    """A pipeline stage cannot run because its inputs are missing or stale."""
