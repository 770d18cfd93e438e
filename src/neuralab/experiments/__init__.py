"""Registered experiments: each reproduces one handout task with its target."""

from neuralab.experiments.registry import (
    Experiment,
    RunResult,
    Target,
    all_experiments,
    experiment,
    get_experiment,
    register,
)

__all__ = ["Experiment", "RunResult", "Target", "all_experiments", "experiment",
           "get_experiment", "register"]
