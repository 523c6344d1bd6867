"""Frozen ensemble bundles: export, verify, load and predict, with no pickle anywhere.

>>> from ensembler.bundle import export_bundle, load_bundle
>>> export_bundle("runs/quickstart")                # -> runs/quickstart/bundle/
>>> bundle = load_bundle("runs/quickstart/bundle")  # verifies every SHA-256 first
>>> proba = bundle.predict_proba(signals, tabular)  # (N, C)
"""

from __future__ import annotations

from ensembler.bundle.bundle import Bundle, load_bundle
from ensembler.bundle.evaluate import evaluate_bundle
from ensembler.bundle.export import ExportResult, export_bundle
from ensembler.bundle.integrity import FORMAT_VERSION, VerifiedBundle, read_verified
from ensembler.bundle.predict import predict_inputs

__all__ = [
    "FORMAT_VERSION",
    "Bundle",
    "ExportResult",
    "VerifiedBundle",
    "evaluate_bundle",
    "export_bundle",
    "load_bundle",
    "predict_inputs",
    "read_verified",
]
