"""Fixtures that make real runs with the pipeline (owned by the training area)."""
