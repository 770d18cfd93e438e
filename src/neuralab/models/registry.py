"""The model registry: ``@register_model`` beside each builder, as torchvision does.

A builder (an ``nn.Module`` class or a function returning one) registers itself where it is
defined::

    @register_model("simple_cnn", input_shape=(3, 32, 32))
    class SimpleCNN(nn.Module): ...

    @register_model("mlp", input_shape=(3072,), n_inputs=3072, n_hidden=[100], num_classes=10)
    class MLP(nn.Module): ...

``input_shape`` is one example's shape (no batch dimension) for the builder's defaults; any
further keywords are defaults that :func:`build_model` passes to the builder (callers'
keywords override them). Names are listed in registration order, i.e. the order in which
``neuralab.models`` imports its modules and, within a module, the order of the decorators.

**A new model = one module + one import line**: write ``models/<name>.py`` with the
decorated builder and add ``from neuralab.models import <name>`` to ``models/__init__.py``
(importing the module is what registers it).

Classifiers take their class count as ``num_classes``; the handouts' spelling ``n_classes``
is accepted too (:func:`num_classes_arg`), also by :func:`build_model` over a registered
``num_classes`` default.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from torch import nn

from neuralab.errors import NeuralabError

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])

# old keyword -> the keyword it stands for, for every classifier builder
ALIASES = {"n_classes": "num_classes"}


@dataclass(frozen=True)
class Entry:
    """How to build one named model: builder, default arguments, one example's shape."""

    build: Callable[..., nn.Module]
    input_shape: tuple[int, ...]
    defaults: dict = field(default_factory=dict)


REGISTRY: dict[str, Entry] = {}
_ORDER: list[str] = []  # every name, registered or lazy, in the order it was announced
_LAZY: dict[str, str] = {}  # name -> the module whose import registers it


def register_lazy(module: str, *names: str) -> None:
    """Announce models that ``module`` registers, to be imported only when one of them is
    first built or looked up (``neuralab.models.transfer`` needs torchvision, whose import
    alone takes about a second; the other models do not pay for it)."""
    for name in names:
        if name not in _LAZY and name not in REGISTRY:
            _LAZY[name] = module
            _ORDER.append(name)


def register_model(name: str, *, input_shape: tuple[int, ...], **defaults) -> Callable:
    """Decorator: register the builder it wraps as model ``name`` and return it unchanged.

    ``input_shape``: one example's shape, without the batch dimension, e.g. ``(3, 32, 32)``;
    ``defaults``: keyword arguments :func:`build_model` passes unless the caller overrides
    them. Registering a name twice is an error.
    """

    def register(builder: Builder) -> Builder:
        if name in REGISTRY:
            raise NeuralabError(f"model {name!r} is registered twice "
                                f"({REGISTRY[name].build.__qualname__} and "
                                f"{builder.__qualname__})")
        REGISTRY[name] = Entry(builder, tuple(input_shape), dict(defaults))
        if name not in _ORDER:
            _ORDER.append(name)
        return builder

    return register


def list_models() -> list[str]:
    """Registered model names (lazy ones included), in registration order."""
    return list(_ORDER)


def get_entry(name: str) -> Entry:
    """The registry entry of ``name``; an unknown name is a one-line error listing them all."""
    if name not in REGISTRY and name in _LAZY:
        importlib.import_module(_LAZY[name])
    try:
        return REGISTRY[name]
    except KeyError:
        raise NeuralabError(
            f"unknown model {name!r}; valid names: {', '.join(list_models())}"
        ) from None


def get_model(name: str, **config) -> nn.Module:
    """A fresh model ``name`` built with its registered defaults updated by ``config``.

    An alias in ``config`` (``n_classes``) replaces the default of the keyword it stands for
    (``num_classes``). Keywords the builder does not take raise a one-line
    :class:`NeuralabError`.
    """
    entry = get_entry(name)
    replaced = {ALIASES[k] for k in config if k in ALIASES and ALIASES[k] not in config}
    arguments = {k: v for k, v in entry.defaults.items() if k not in replaced}
    arguments.update(config)
    try:
        inspect.signature(entry.build).bind(**arguments)
    except TypeError as err:
        raise NeuralabError(f"cannot build model {name!r} with {config}: {err}") from None
    return entry.build(**arguments)


def num_classes_arg(num_classes: int | None, n_classes: int | None, who: str,
                    default: int | None = None) -> int:
    """The class count given as ``num_classes`` or as its alias ``n_classes``.

    Both given and different, or neither given without a ``default``, is a
    :class:`NeuralabError` naming the model ``who``.
    """
    if num_classes is not None and n_classes is not None and num_classes != n_classes:
        raise NeuralabError(f"{who}: num_classes={num_classes} and n_classes={n_classes} "
                            f"disagree (n_classes is another name for num_classes)")
    value = next((v for v in (num_classes, n_classes, default) if v is not None), None)
    if value is None:
        raise NeuralabError(f"{who} needs num_classes (the number of output logits)")
    return int(value)
