"""The 16-720 hw5 fully connected autoencoder for 32x32 letter crops, in PyTorch.

    x [N, 1024] (or [N, 1, 32, 32], flattened inside)
      -> Linear 1024->32, ReLU -> Linear 32->32, ReLU     (encoder, code [N, 32])
      -> Linear 32->32, ReLU -> Linear 32->1024, sigmoid  (decoder)
      -> reconstruction [N, 1024] in (0, 1)

Parameters: 32,800 + 1,056 + 1,056 + 33,792 = 68,704. Trained with a squared-error loss on
pixels in [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from neuralab.models.registry import register_model


@register_model("autoencoder", input_shape=(1024,))
class Autoencoder(nn.Module):
    """1024-32-32-32-1024 autoencoder: three ReLU layers, then a sigmoid output.

    ``forward(x)`` returns the reconstruction ``[N, n_inputs]``; :meth:`encode` returns the
    32-d code after the second layer.
    """

    def __init__(self, n_inputs: int = 1024, n_hidden: int = 32) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_inputs, n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, n_hidden), nn.ReLU(),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.Linear(n_hidden, n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, n_inputs), nn.Sigmoid(),
        )  # fmt: skip

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x))
