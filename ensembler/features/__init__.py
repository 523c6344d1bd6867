"""ECG feature sets: named, documented columns computed from preprocessed signals.

>>> from ensembler.features import create_feature_set
>>> fset = create_feature_set("ecg_clinical")
>>> row = fset.compute(signal, fs=100.0, lead_names=STANDARD_LEADS)   # (n_columns,)

:func:`compute_features` computes a whole cohort in parallel, cached per (cohort
fingerprint, feature-set spec). The column reference is docs/sections/features.md.
"""

from ensembler.features.registry import (
    ColumnSpec,
    FeatureSet,
    create_feature_set,
    list_feature_sets,
    register_feature_set,
)

__all__ = [
    "ColumnSpec",
    "FeatureSet",
    "create_feature_set",
    "list_feature_sets",
    "register_feature_set",
]
