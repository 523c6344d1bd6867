"""Where in the ECG a decision comes from: member attribution maps and the stack's shares.

:func:`member_attribution` (Captum Integrated Gradients or gradient x input through the
member's own standardisation and windows), :func:`feature_attribution` (a feature
member's LightGBM pred_contrib mapped to leads), :func:`attribute` (members and the
stack on N ECGs), :func:`explain_inputs` (records read as
``predict`` reads them, the stack's apportionment to members), :func:`write_explanations`
(one PNG + one JSON per record).
"""

from __future__ import annotations

from ensembler.explain.attribution import METHODS, lead_importance, member_attribution
from ensembler.explain.core import Attributions, attribute
from ensembler.explain.features import FeatureAttribution, feature_attribution
from ensembler.explain.records import (
    RecordExplanation,
    explain_inputs,
    lead_summary,
    resolve_class,
)
from ensembler.explain.write import write_explanations

__all__ = [
    "METHODS",
    "Attributions",
    "FeatureAttribution",
    "RecordExplanation",
    "attribute",
    "explain_inputs",
    "feature_attribution",
    "lead_importance",
    "lead_summary",
    "member_attribution",
    "resolve_class",
    "write_explanations",
]
