"""A multi-layer perceptron in PyTorch, with the interface of the NumPy one.

UvA Deep Learning practical 1 builds ``MLP(n_inputs, n_hidden, n_classes)`` twice: once from
NumPy modules (``neuralab.scratch``) and once in PyTorch. This is the PyTorch twin:

    x [N, *] --flatten--> [N, n_inputs]
      -> ( Linear -> [BatchNorm1d] -> activation -> [Dropout] ) x len(n_hidden)
      -> Linear -> logits [N, n_classes]

The softmax lives in the loss (``nn.CrossEntropyLoss``), not in the model. Weights use
PyTorch's default ``nn.Linear`` initialisation (the handout's PyTorch part asks for defaults).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neuralab.errors import NeuralabError
from neuralab.models.shapes import ShapeError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "elu": nn.ELU,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def make_activation(name: str) -> nn.Module:
    """``nn.Module`` for an activation name (``elu``, ``relu``, ``leaky_relu``, ...)."""
    try:
        return ACTIVATIONS[name.lower()]()
    except KeyError:
        valid = ", ".join(ACTIVATIONS)
        raise NeuralabError(f"unknown activation {name!r}; valid: {valid}") from None


class MLP(nn.Module):
    """Fully connected classifier: ``len(n_hidden)`` hidden layers, then a linear readout.

    Args:
        n_inputs: features per example after flattening (3*32*32 = 3072 for CIFAR-10).
        n_hidden: hidden layer widths, e.g. ``[100]`` (the handout default); ``[]`` gives
            multinomial logistic regression.
        n_classes: number of output logits.
        activation: ``elu`` (handout), ``relu``, ``leaky_relu``, ``gelu``, ``tanh``, ``sigmoid``.
        batch_norm: insert ``BatchNorm1d`` after every hidden linear layer.
        dropout: drop probability after every hidden activation (0 disables).

    Shapes: ``forward(x)`` takes ``[N, ...]`` with ``prod(...) == n_inputs`` and returns
    ``[N, n_classes]`` logits.
    """

    def __init__(
        self,
        n_inputs: int,
        n_hidden: Sequence[int],
        n_classes: int,
        activation: str = "elu",
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
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
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if x.shape[1] != self.n_inputs:
            raise ShapeError(
                f"MLP expects {self.n_inputs} features per example, got {x.shape[1]} "
                f"(input shape {tuple(x.shape)})"
            )
        return self.layers(x)
