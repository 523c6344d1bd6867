"""Data sources, preprocessing and the preprocessed cache.

Public API: :func:`load_cohort`, :class:`Cohort`, :func:`preprocess_record`,
:func:`read_record`.
"""

from ensembler.data.cohort import STANDARD_LEADS, Cohort
from ensembler.data.load import load_cohort
from ensembler.data.preprocess import preprocess_record
from ensembler.data.wfdb_io import read_record

__all__ = ["STANDARD_LEADS", "Cohort", "load_cohort", "preprocess_record", "read_record"]
