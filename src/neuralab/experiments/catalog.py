"""Every registered experiment: importing this module imports each topic module, and each
registers its experiments in :mod:`neuralab.experiments.registry` as it is imported.

Layering: the registry is a leaf (topic modules import it); this catalog sits above the topic
modules and is the one place that knows them all. ``neuralab.experiments.get_experiment`` and
``all_experiments`` come from here.
"""

from __future__ import annotations

from neuralab.errors import NeuralabError
from neuralab.experiments import (  # noqa: F401  (importing a topic module registers it)
    chars_scratch,
    cifar10,
    cifar10_fast,
    digits,
    digits_scratch,
    handwriting,
    palindrome,
    scratch_cifar,
    transfer,
)
from neuralab.experiments.registry import Experiment, registered


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; an unknown name is a one-line error with suggestions."""
    experiments = registered()
    try:
        return experiments[name]
    except KeyError:
        close = [n for n in experiments if name.split("-")[0] in n][:5]
        hint = f"; did you mean {', '.join(close)}?" if close else "; `neuralab list` shows all"
        raise NeuralabError(f"unknown experiment {name!r}{hint}") from None


def all_tags() -> list[str]:
    return sorted({tag for e in registered().values() for tag in e.tags})


def all_experiments(tag: str | None = None) -> list[Experiment]:
    """Every experiment sorted by topic and name; with ``tag``, those that carry it."""
    exps = sorted(registered().values(), key=lambda e: (e.topic, e.name))
    return [e for e in exps if tag is None or tag in e.tags]
