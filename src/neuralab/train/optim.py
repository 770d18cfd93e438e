"""Optimisers and learning-rate schedules by name, as experiment configs spell them."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from neuralab.errors import NeuralabError

OPTIMIZERS = ("sgd", "nesterov", "adam", "adamw")
SCHEDULES = ("none", "onecycle", "cosine")


def check_names(*, optimizer: str | None = None, schedule: str | None = None) -> None:
    """A one-line error for an optimiser or schedule name this module lacks: recipes call it
    before reading any data, so a typo costs no time."""
    if optimizer is not None and optimizer.lower() not in OPTIMIZERS:
        raise NeuralabError(f"unknown optimizer {optimizer!r}; use {', '.join(OPTIMIZERS)}")
    if schedule is not None and schedule.lower() not in SCHEDULES:
        raise NeuralabError(f"unknown schedule {schedule!r}; use {', '.join(SCHEDULES)}")


def make_optimizer(name: str, params: Iterable, lr: float, momentum: float = 0.0,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """``sgd`` / ``nesterov`` (SGD with Nesterov momentum) / ``adam`` / ``adamw``."""
    check_names(optimizer=name)
    key = name.lower()
    if key in ("sgd", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=key == "nesterov",
                               weight_decay=weight_decay)
    if key == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, lr: float, total_steps: int):
    """A per-step learning-rate schedule over ``total_steps``, or None for ``none``.

    ``onecycle``: up from ``lr / 25`` to ``lr`` over the first quarter, then down (annealed by a
    cosine) to ``lr / 25 / 1e4`` (``OneCycleLR``'s defaults). ``cosine``: from ``lr`` down to 0
    along a half cosine (``CosineAnnealingLR``).
    """
    check_names(schedule=name)
    key = name.lower()
    if key == "none":
        return None
    if key == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                                   pct_start=0.25)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)  # cosine
