"""A multi-layer perceptron in PyTorch, with the interface of the NumPy one.

UvA Deep Learning practical 1 builds ``MLP(n_inputs, n_hidden, n_classes)`` twice: once from
NumPy modules (``neuralab.scratch``) and once in PyTorch. This is the PyTorch twin (its third
argument is ``num_classes``, like every classifier here; ``n_classes=`` works too):

    x [N, *] --flatten--> [N, n_inputs]
      -> ( Linear -> [BatchNorm1d] -> activation -> [Dropout] ) x len(n_hidden)
      -> Linear -> logits [N, num_classes]

The softmax lives in the loss (``nn.CrossEntropyLoss``), not in the model. Weights use
PyTorch's default ``nn.Linear`` initialisation (the handout's PyTorch part asks for defaults).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from neuralab.errors import NeuralabError
from neuralab.models.registry import num_classes_arg, register_model
from neuralab.models.shapes import ShapeError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "elu": nn.ELU,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def make_activation(spec: str | nn.Module | type[nn.Module]) -> nn.Module:
    """A fresh activation ``nn.Module`` from ``spec``.

    ``spec`` is a name (``elu``, ``relu``, ``leaky_relu``, ``gelu``, ``tanh``, ``sigmoid``;
    any case), an ``nn.Module`` class (instantiated without arguments, e.g. ``nn.SiLU``) or an
    ``nn.Module`` instance (deep-copied, so layers built from one spec never share
    parameters, e.g. ``nn.PReLU()``). Anything else is a one-line :class:`NeuralabError`
    naming the valid choices.
    """
    if isinstance(spec, nn.Module):
        return copy.deepcopy(spec)
    if isinstance(spec, type) and issubclass(spec, nn.Module):
        return spec()
    if isinstance(spec, str) and spec.lower() in ACTIVATIONS:
        return ACTIVATIONS[spec.lower()]()
    valid = ", ".join(ACTIVATIONS)
    raise NeuralabError(f"unknown activation {spec!r}; valid: {valid}, or an nn.Module "
                        f"class or instance")


@register_model("mlp", input_shape=(3 * 32 * 32,), n_inputs=3072, n_hidden=[100],
                num_classes=10)
class MLP(nn.Module):
    """Fully connected classifier: ``len(n_hidden)`` hidden layers, then a linear readout.

    Args:
        n_inputs: features per example after flattening (3*32*32 = 3072 for CIFAR-10).
        n_hidden: hidden layer widths, e.g. ``[100]`` (the handout default); ``[]`` gives
            multinomial logistic regression.
        num_classes: number of output logits (required; ``n_classes``, the handout's name,
            is accepted instead).
        activation: ``elu`` (handout), ``relu``, ``leaky_relu``, ``gelu``, ``tanh``,
            ``sigmoid``, or an ``nn.Module`` class or instance (see :func:`make_activation`).
        batch_norm: insert ``BatchNorm1d`` after every hidden linear layer.
        dropout: drop probability after every hidden activation (0 disables).

    Shapes: ``forward(x)`` takes ``[N, ...]`` with ``prod(...) == n_inputs`` and returns
    ``[N, num_classes]`` logits in the parameters' dtype (a floating input of another dtype,
    e.g. float64 into a float32 model, is cast to it; ``model.double()`` computes in float64).
    """

    def __init__(
        self,
        n_inputs: int,
        n_hidden: Sequence[int],
        num_classes: int | None = None,
        activation: str | nn.Module | type[nn.Module] = "elu",
        batch_norm: bool = False,
        dropout: float = 0.0,
        *,
        n_classes: int | None = None,
    ) -> None:
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "MLP")
        if not 0.0 <= dropout < 1.0:
            raise NeuralabError(f"dropout must be in [0, 1), got {dropout}")
        self.n_inputs = n_inputs
        layers: list[nn.Module] = []
        width = n_inputs
        for hidden in n_hidden:
            layers.append(nn.Linear(width, hidden))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)  # [N, ...] -> [N, n_inputs]
        if x.shape[1] != self.n_inputs:
            raise ShapeError(
                f"MLP expects {self.n_inputs} features per example, got {x.shape[1]} "
                f"(input shape {tuple(x.shape)})"
            )
        dtype = self.layers[0].weight.dtype
        if x.is_floating_point() and x.dtype != dtype:
            x = x.to(dtype)
        return self.layers(x)  # [N, num_classes]
