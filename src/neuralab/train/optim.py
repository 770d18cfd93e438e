"""Optimisers and learning-rate schedules by name, as experiment configs spell them."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from neuralab.errors import NeuralabError

OPTIMIZERS = ("sgd", "nesterov", "adam", "adamw")
SCHEDULES = ("none", "onecycle", "cosine")


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


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, lr: float, total_steps: int):
    """A per-step learning-rate schedule over ``total_steps``, or None for ``none``.

    ``onecycle``: up from ``lr / 25`` to ``lr`` over the first quarter, then down (annealed by a
    cosine) to ``lr / 25 / 1e4`` (``OneCycleLR``'s defaults). ``cosine``: from ``lr`` down to 0
    along a half cosine (``CosineAnnealingLR``).
    """
    key = name.lower()
    if key == "none":
        return None
    if key == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                                   pct_start=0.25)
    if key == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    raise NeuralabError(f"unknown schedule {name!r}; use {', '.join(SCHEDULES)}")
