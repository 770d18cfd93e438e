"""Test-time augmentation: average a classifier's logits over flipped and shifted views.

Wrapping the model (rather than changing the evaluation loop) keeps every evaluation path —
``compute_loss_and_accuracy``, ``predict``, DDP all-reduce — unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FlipTranslateTTA(nn.Module):
    """Logits averaged over views of ``x`` ``[N, C, H, W]`` (airbench's levels):

    * level 0: the model itself;
    * level 1: ``(f(x) + f(flip(x))) / 2``;
    * level 2: ``m(x) / 2 + (m(shift(x, -1, -1)) + m(shift(x, +1, +1))) / 4`` with ``m`` the
      level-1 mirror average and ``shift`` a one-pixel translation (reflect padding): six views.
    """

    def __init__(self, model: nn.Module, level: int = 2) -> None:
        super().__init__()
        if level not in (0, 1, 2):
            raise ValueError(f"TTA level must be 0, 1 or 2, not {level}")
        self.model, self.level = model, level

    def _mirror(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.model(x) + 0.5 * self.model(x.flip(-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.level == 0:
            return self.model(x)
        logits = self._mirror(x)
        if self.level == 1:
            return logits
        h, w = x.shape[-2:]
        padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
        shifted = [padded[..., :h, :w], padded[..., 2:h + 2, 2:w + 2]]
        if x.is_contiguous(memory_format=torch.channels_last):
            shifted = [s.contiguous(memory_format=torch.channels_last) for s in shifted]
        translated = torch.stack([self._mirror(s) for s in shifted]).mean(0)
        return 0.5 * logits + 0.5 * translated
