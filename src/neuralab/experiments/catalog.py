"""Importing this module registers every experiment (one module per topic)."""

from neuralab.experiments import digits  # noqa: F401
