"""Stages of a run and the run directory they share."""
