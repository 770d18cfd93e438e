"""Importing this module registers every experiment (one module per topic)."""

from neuralab.experiments import cifar10, digits  # noqa: F401
