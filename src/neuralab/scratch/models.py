"""Networks built from the engine's layers: the multi-layer perceptron and hw5's autoencoder.

Both are :class:`~neuralab.scratch.base.Sequential` subclasses, so ``forward``,
``backward``, ``params`` and ``grads`` work as for any module. Losses stay separate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuralab.errors import NeuralabError
from neuralab.scratch.base import Module, Sequential, make_rng, resolve_dtype
from neuralab.scratch.layers import ACTIVATIONS, Linear, Sigmoid


def _activation(name: str) -> Module:
    try:
        return ACTIVATIONS[name.lower()]()
    except (KeyError, AttributeError):
        raise NeuralabError(
            f"unknown activation {name!r}; choose one of: {', '.join(ACTIVATIONS)}"
        ) from None


class MLP(Sequential):
    """Multi-layer perceptron: ``[Linear -> activation] * len(hidden_units) -> Linear``.

    ``forward(x [S, n_inputs]) -> scores [S, n_classes]`` (logits; pair it with
    :class:`~neuralab.scratch.losses.SoftmaxCrossEntropy` or another loss). With
    ``hidden_units=[]`` it is a linear classifier.

    ``init``: ``xavier`` (default), ``he``, ``normal`` (``N(0, init_std^2)``; UvA practical
    1 uses ``init="normal"`` with its default std 1e-4), ``zeros`` or a callable. ``rng``
    (generator or seed) makes the initial weights reproducible.

    The HLCV exercise-2 network is ``MLP(D, [H], K, activation="relu")``.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_units: Sequence[int],
        n_classes: int,
        activation: str = "elu",
        init="xavier",
        init_std: float | None = None,
        dtype=np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.dtype = resolve_dtype(dtype)
        gen = make_rng(rng)
        sizes = [n_inputs, *hidden_units, n_classes]
        if any(int(s) <= 0 for s in sizes):
            raise NeuralabError(f"layer sizes must be positive, got {sizes}")
        layers: list[Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(Linear(a, b, init=init, init_std=init_std, dtype=self.dtype, rng=gen))
            if i < len(sizes) - 2:
                layers.append(_activation(activation))
        super().__init__(*layers)
        self.n_inputs, self.hidden_units, self.n_classes = n_inputs, list(hidden_units), n_classes
        self.activation = activation

    @property
    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]


class Autoencoder(Sequential):
    """hw5's fully connected autoencoder: ``1024 -> 32 -> 32 -> 32 -> 1024``.

    ReLU after each hidden layer and a sigmoid on the output, so reconstructions lie in
    (0, 1) like the input pixels. Train it with
    :class:`~neuralab.scratch.losses.SquaredError` (sum over the batch and pixels) and
    ``SGD(momentum=0.9)``, as hw5 does. Weights are Xavier-uniform (hw5's
    ``initialize_weights``), biases zero.
    """

    def __init__(
        self,
        n_inputs: int = 1024,
        hidden_units: Sequence[int] = (32, 32, 32),
        init="xavier",
        dtype=np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.dtype = resolve_dtype(dtype)
        gen = make_rng(rng)
        sizes = [n_inputs, *hidden_units, n_inputs]
        layers: list[Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(Linear(a, b, init=init, dtype=self.dtype, rng=gen))
            layers.append(_activation("relu") if i < len(sizes) - 2 else Sigmoid())
        super().__init__(*layers)
        self.n_inputs, self.hidden_units = n_inputs, list(hidden_units)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """The code of the middle hidden layer (``[S, hidden_units[len // 2]]``)."""
        n_enc = 2 * (len(self.hidden_units) // 2 + 1)
        for layer in self.layers[:n_enc]:
            x = layer.forward(x)
        return x


MODELS = {"mlp": MLP, "autoencoder": Autoencoder}
"""The networks :func:`build` makes by name (a saved run records one of these names)."""


def spec_of(model: Module) -> tuple[str, dict]:
    """``(name, args)`` that :func:`build` turns back into a network of ``model``'s shape
    (initial weights aside): e.g. ``("mlp", {"n_inputs": 3072, "hidden_units": [100],
    "n_classes": 10, "activation": "elu"})``."""
    if isinstance(model, MLP):
        return "mlp", {"n_inputs": model.n_inputs, "hidden_units": list(model.hidden_units),
                       "n_classes": model.n_classes, "activation": model.activation,
                       "dtype": model.dtype.name}
    if isinstance(model, Autoencoder):
        return "autoencoder", {"n_inputs": model.n_inputs,
                               "hidden_units": list(model.hidden_units),
                               "dtype": model.dtype.name}
    raise NeuralabError(f"cannot record a {type(model).__name__}; known networks: "
                        f"{', '.join(MODELS)}")


def build(name: str, **args) -> Module:
    """The network ``name`` of :data:`MODELS` built with ``args`` (see :func:`spec_of`)."""
    if name not in MODELS:
        raise NeuralabError(f"unknown NumPy network {name!r}; known: {', '.join(MODELS)}")
    try:
        return MODELS[name](**args)
    except TypeError as err:
        raise NeuralabError(f"cannot build the NumPy network {name} from {args}: {err}") from None
