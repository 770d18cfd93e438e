"""The experiment registry: every reproducible result is a named, registered experiment.

An experiment is data plus one function: a config dataclass (its fields are the knobs, with the
handout's defaults), a :class:`Target` (the number the handout promises and where it says so)
and ``run(config, ctx) -> RunResult``. The CLI, the report and the demo all read this registry.

This module is a leaf of the experiments layer: it imports no topic module. Topic modules
import it and register their experiments when they are imported; :mod:`neuralab.experiments.
catalog` imports every topic module and answers ``get_experiment`` / ``all_experiments``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neuralab.experiments.config import apply_overrides
from neuralab.experiments.record import ModelRecord


@dataclass(frozen=True)
class Target:
    """What the handout promises: ``metric`` compared against ``threshold``.

    ``source`` names the handout and section the number comes from; ``higher_is_better`` is
    False for errors and losses (then ``met`` means ``value <= threshold``).
    """

    metric: str
    threshold: float
    source: str
    higher_is_better: bool = True

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.threshold if self.higher_is_better else value <= self.threshold

    def describe(self) -> str:
        op = ">=" if self.higher_is_better else "<="
        return f"{self.metric} {op} {self.threshold:g}"


@dataclass
class RunResult:
    """What ``run`` returns. ``metrics`` are final numbers (the target's metric among them);
    ``history`` one row per evaluation (becomes history.csv); ``tables`` extra named tables
    (e.g. per-class accuracy) shown in the report; ``notes`` free text for the report."""

    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: str = ""


@dataclass(frozen=True)
class Experiment:
    name: str
    topic: str
    handout: str
    config_cls: type
    target: Target
    run: Callable[[Any, Any], RunResult]
    description: str = ""
    tags: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    #: the topic module that registered the experiment (e.g. ``neuralab.experiments.cifar10``)
    module: str = ""
    #: ``rebuild(config) -> spec``: the untrained model of a run with its preprocessing (see
    #: :func:`neuralab.experiments.runs.load_run`); None: the topic module's ``rebuild``
    rebuild: Callable[[Any], dict[str, Any]] | None = None
    #: ``describe(config, data_dir) -> ModelRecord``: the model a run trains, its classes and
    #: preprocessing, written to the run's model.json (:mod:`neuralab.experiments.record`)
    describe: Callable[[Any, Any], ModelRecord] | None = None

    def make_config(self, overrides: dict[str, str] | None = None):
        """The config dataclass with this experiment's defaults and string ``overrides`` applied."""
        config = self.config_cls(**self.defaults)
        return apply_overrides(config, overrides or {})


_REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    if experiment.name in _REGISTRY:
        raise ValueError(f"experiment {experiment.name!r} registered twice")
    if not dataclasses.is_dataclass(experiment.config_cls):
        raise TypeError(f"{experiment.name}: config_cls must be a dataclass")
    _REGISTRY[experiment.name] = experiment
    return experiment


def experiment(name: str, *, topic: str, handout: str, config: type, target: Target,
               description: str = "", tags: tuple[str, ...] = (),
               defaults: dict[str, Any] | None = None, module: str | None = None,
               rebuild: Callable[[Any], dict[str, Any]] | None = None,
               describe: Callable[[Any, Any], ModelRecord] | None = None):
    """Decorator form of :func:`register` for a ``run(config, ctx)`` function; the experiment
    belongs to ``module`` (default: the module that defines ``run``)."""

    def wrap(run: Callable) -> Callable:
        register(Experiment(name=name, topic=topic, handout=handout, config_cls=config,
                            target=target, run=run, description=description or (run.__doc__ or "")
                            .strip().split("\n")[0], tags=tags, defaults=dict(defaults or {}),
                            module=module or run.__module__, rebuild=rebuild,
                            describe=describe))
        return run

    return wrap


def register_recipe(name: str, recipe: Callable[[Any, Any, str], RunResult], *, topic: str,
                    handout: str, config: type, target: Target, title: str,
                    tags: tuple[str, ...] = (),
                    rebuild: Callable[[Any], dict[str, Any]] | None = None,
                    describe: Callable[[Any, Any], ModelRecord] | None = None,
                    **defaults: Any) -> None:
    """Register one training recipe ``recipe(config, ctx, title)`` under another name, with
    the handout's settings as the config defaults (one recipe, many experiments). The
    experiment belongs to the recipe's topic module."""

    def run(cfg, ctx) -> RunResult:
        return recipe(cfg, ctx, title)

    run.__doc__ = title
    experiment(name, topic=topic, handout=handout, config=config, target=target,
               description=title, tags=tags, defaults=defaults, module=recipe.__module__,
               rebuild=rebuild, describe=describe)(run)


def registered() -> dict[str, Experiment]:
    """The experiments registered so far (only those of the topic modules imported yet: use
    :func:`neuralab.experiments.catalog.all_experiments` for all of them)."""
    return dict(_REGISTRY)
