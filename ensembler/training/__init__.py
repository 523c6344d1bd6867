"""Fold trainer and out-of-fold runner."""
