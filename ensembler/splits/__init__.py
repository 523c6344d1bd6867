"""Patient-grouped folds, leak checks and duplicate detection."""

from ensembler.splits.checks import check_split
from ensembler.splits.duplicates import DuplicatePair, find_duplicate_recordings
from ensembler.splits.folds import Split, make_split

__all__ = ["DuplicatePair", "Split", "check_split", "find_duplicate_recordings", "make_split"]
