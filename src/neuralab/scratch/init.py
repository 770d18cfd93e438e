"""Weight initialisers. Each is ``init(shape, rng, dtype) -> array``.

Shapes follow the layers: a Linear weight is ``[out, in]`` and a Conv2d weight is
``[F, C, kh, kw]``, so ``fan_in = in`` (or ``C*kh*kw``) and ``fan_out = out`` (or
``F*kh*kw``).

- ``xavier_uniform``: Glorot & Bengio (2010), eq. 16, the "normalized initialization"
  ``W ~ U[-sqrt(6/(n_in+n_out)), +sqrt(6/(n_in+n_out))]``, so ``Var W = 2/(n_in+n_out)``
  (a uniform on [-a, a] has variance a^2/3). This is also hw5's ``initialize_weights``.
- ``he_normal``: He et al. (2015) ``W ~ N(0, 2/n_in)``, for ReLU-family layers.
- ``normal``: ``W ~ N(0, std^2)``. The UvA practical 1 starter code (``modules.py``,
  ``LinearModule``) says "normal distribution with mean = 0 and std = 0.0001", i.e.
  1e-4 is the *standard deviation*, which is the default here. HLCV/CS231n's
  ``TwoLayerNet(std=1e-4)`` is the same: ``std * randn``.
- ``zeros``: all zeros (biases; a symmetric, untrainable choice for weights).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np

from neuralab.errors import NeuralabError
from neuralab.scratch.base import make_rng, resolve_dtype

Initializer = Callable[..., np.ndarray]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``[out, in, *kernel]``."""
    if len(shape) < 2:
        raise NeuralabError(f"fan-in/fan-out need a weight of rank >= 2, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def xavier_uniform(shape, rng=None, dtype=np.float32) -> np.ndarray:
    """Glorot-uniform: ``U[-a, a]`` with ``a = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(tuple(shape))
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return make_rng(rng).uniform(-a, a, size=shape).astype(resolve_dtype(dtype))


def he_normal(shape, rng=None, dtype=np.float32) -> np.ndarray:
    """He-normal: ``N(0, 2 / fan_in)``."""
    fan_in, _ = fans(tuple(shape))
    std = math.sqrt(2.0 / fan_in)
    return (std * make_rng(rng).standard_normal(shape)).astype(resolve_dtype(dtype))


def normal(shape, rng=None, dtype=np.float32, std: float = 1e-4) -> np.ndarray:
    """``N(0, std^2)``; ``std`` defaults to UvA practical 1's 1e-4 (a std, not a variance)."""
    return (std * make_rng(rng).standard_normal(shape)).astype(resolve_dtype(dtype))


def zeros(shape, rng=None, dtype=np.float32) -> np.ndarray:
    return np.zeros(shape, dtype=resolve_dtype(dtype))


INITIALIZERS: dict[str, Initializer] = {
    "xavier": xavier_uniform,
    "xavier_uniform": xavier_uniform,
    "glorot": xavier_uniform,
    "he": he_normal,
    "he_normal": he_normal,
    "kaiming": he_normal,
    "normal": normal,
    "zeros": zeros,
}


def get_initializer(init: str | Initializer, std: float | None = None) -> Initializer:
    """Resolve a name (``xavier``, ``he``, ``normal``, ``zeros``) or pass a callable through.

    ``std`` sets the standard deviation of ``normal`` (ignored by the others).
    """
    if callable(init):
        return init
    try:
        fn = INITIALIZERS[init.lower()]
    except (KeyError, AttributeError):
        names = ", ".join(sorted(INITIALIZERS))
        raise NeuralabError(f"unknown init {init!r}; choose one of: {names}") from None
    if fn is normal and std is not None:
        return partial(normal, std=std)
    return fn
