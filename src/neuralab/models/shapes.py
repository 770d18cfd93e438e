"""Input-shape checks shared by the models: one clear error instead of a matmul traceback."""

from __future__ import annotations

import torch

from neuralab.errors import NeuralabError


class ShapeError(NeuralabError, ValueError):
    """A tensor of the wrong shape was passed to a model (also a ``ValueError``)."""


def check_last_dim(x: torch.Tensor, size: int, who: str) -> None:
    """Raise :class:`ShapeError` unless ``x`` is at least 1-D with ``x.shape[-1] == size``."""
    if x.dim() == 0 or x.shape[-1] != size:
        raise ShapeError(
            f"{who} expects input of shape [..., {size}], got {tuple(x.shape)}; "
            f"the last dimension must equal n_neurons={size}"
        )
