"""Registered experiments: each reproduces one handout task with its target.

``get_experiment`` and ``all_experiments`` import :mod:`neuralab.experiments.catalog` (every
topic module, torch among them) on first use, so importing this package or its registry stays
cheap.
"""

from __future__ import annotations

from neuralab.experiments.registry import Experiment, RunResult, Target, experiment, register


def get_experiment(name: str) -> Experiment:
    """The registered experiment ``name`` (a one-line error for an unknown name)."""
    from neuralab.experiments import catalog

    return catalog.get_experiment(name)


def all_experiments(tag: str | None = None) -> list[Experiment]:
    """Every registered experiment, sorted by topic and name; with ``tag``, those with it."""
    from neuralab.experiments import catalog

    return catalog.all_experiments(tag)


__all__ = ["Experiment", "RunResult", "Target", "all_experiments", "experiment",
           "get_experiment", "register"]
