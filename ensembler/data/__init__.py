"""Data sources, preprocessing, cache and splits."""
