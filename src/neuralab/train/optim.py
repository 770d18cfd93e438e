"""Optimisers by name, as experiment configs spell them."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from neuralab.errors import NeuralabError

OPTIMIZERS = ("sgd", "nesterov", "adam", "adamw")


def make_optimizer(name: str, params: Iterable, lr: float, momentum: float = 0.0,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """``sgd`` / ``nesterov`` (SGD with Nesterov momentum) / ``adam`` / ``adamw``."""
    key = name.lower()
    if key in ("sgd", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=key == "nesterov",
                               weight_decay=weight_decay)
    if key == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if key == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise NeuralabError(f"unknown optimizer {name!r}; use {', '.join(OPTIMIZERS)}")
