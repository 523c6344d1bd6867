"""The built-in synthetic cohort: ECG model, planted condition, WFDB writer."""

from ensembler.data.synth.writer import synthetic_key, write_synthetic

__all__ = ["synthetic_key", "write_synthetic"]
