"""The module protocol of the NumPy engine, and the container that chains modules.

Every layer is a :class:`Module` with

- ``forward(x) -> y``: computes the output and caches what the backward pass needs;
- ``backward(dout, need_input_grad=True) -> dx``: given ``dout = dL/dy`` (same shape as
  ``y``) it writes ``dL/dtheta`` into ``grads`` and returns ``dL/dx`` (same shape as ``x``);
- ``params`` / ``grads``: dicts name -> array with the same keys and shapes.

Two rules keep the engine fast and the optimiser simple:

1. ``params`` arrays are updated in place by the optimiser, never rebound, so any dict
   holding them stays valid.
2. ``grads`` arrays are allocated once and *overwritten* (not accumulated, unlike torch) by
   each ``backward``; an optimiser may hold references to them.

Arrays are batch-first: ``x[s]`` is sample ``s``.

Dtypes. A parametric module's ``dtype`` (float32 by default, or float64) is fixed at
construction: its parameters and their gradients keep it. Inputs are never rounded down: a
module computes in the wider of the input's and its parameters' float dtype
(:func:`compute_dtype`), so float64 input gives float64 outputs and input gradients even from
a float32 module, and float32 input into a float32 module stays float32 (the fast path the
experiments use). Integer input is converted to the module's dtype, and element-wise
activations turn it into float64 (:func:`as_float`), never back into integers. For
finite-difference checks build the model with ``dtype=np.float64``: then every array is
float64 end to end.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from neuralab.errors import NeuralabError

DTypes = (np.float32, np.float64)


def resolve_dtype(dtype) -> np.dtype:
    """Return ``np.dtype(dtype)``; only float32 and float64 are accepted."""
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise NeuralabError(f"scratch engine supports float32 or float64, not {dt}")
    return dt


def compute_dtype(x: np.ndarray, dtype) -> np.dtype:
    """The dtype a module with parameters of ``dtype`` computes in for the input ``x``: the
    wider of the two for float input (float64 input is not rounded to float32), the
    parameters' for anything else (integers, booleans)."""
    dt = np.asarray(x).dtype
    if dt.kind == "f":
        return np.result_type(dt, dtype)
    return np.dtype(dtype)


def as_float(x) -> np.ndarray:
    """``x`` as an array of floats: float arrays pass through unchanged (no copy), anything
    else (integers, booleans, lists) becomes float64."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def make_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A ``np.random.Generator`` from a generator, a seed, or ``None`` (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


class Module:
    """Base class: a differentiable function with optional parameters.

    Subclasses set ``self.params`` and ``self.grads`` (empty dicts when parameter-free)
    and implement :meth:`forward` and :meth:`backward`.
    """

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]

    def __init__(self) -> None:
        self.params = {}
        self.grads = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """Return dL/dx from dL/dy; fill ``grads``.

        ``need_input_grad=False`` lets a parametric layer skip computing dL/dx (the first
        layer of a network never needs it); it then returns ``None``. Parameter-free
        layers may ignore the flag.
        """
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def zero_grad(self) -> None:
        """Set every gradient to zero (not needed between steps: backward overwrites)."""
        for g in self.grads.values():
            g.fill(0)

    def num_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sequential(Module):
    """Modules applied one after the other: ``y = f_L(... f_2(f_1(x)))``.

    Backward runs the chain rule in reverse: ``d_{l-1} = f_l.backward(d_l)``.
    ``params``/``grads`` hold every child's arrays (the same objects, not copies) under
    ``"<index>.<name>"``, e.g. ``"0.weight"``.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], list | tuple):
            layers = tuple(layers[0])
        self.layers: list[Module] = list(layers)
        self.collect_params()

    def collect_params(self) -> None:
        """(Re)build ``params``/``grads`` from the children's arrays."""
        self.params, self.grads = {}, {}
        for i, layer in enumerate(self.layers):
            for name, p in layer.params.items():
                self.params[f"{i}.{name}"] = p
                self.grads[f"{i}.{name}"] = layer.grads[name]

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """Chain rule from the last layer to the first. Without ``need_input_grad`` it stops
        at the first layer that has parameters, which then skips its own input gradient."""
        stop = 0
        if not need_input_grad:
            stop = next((i for i, layer in enumerate(self.layers) if layer.params),
                        len(self.layers))
        for i in range(len(self.layers) - 1, stop - 1, -1):
            dout = self.layers[i].backward(dout, need_input_grad=need_input_grad or i > stop)
        return dout if need_input_grad else None

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"{type(self).__name__}(\n{inner}\n)"
