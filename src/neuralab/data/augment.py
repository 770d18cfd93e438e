"""Augmentation and normalisation on batched tensors ``[N, C, H, W]``, on any device.

Everything is vectorised: one random crop offset and one flip decision per image, applied to
the whole batch with a single gather / ``where`` (no Python loop over images). Randomness
comes from the optional ``torch.Generator`` so that runs are reproducible.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from neuralab.data import cifar10, digits, emnist, flowers17
from neuralab.data.dataset import Split
from neuralab.data.facts import IMAGENET
from neuralab.data.mnist import FASHION_MNIST, MNIST

# Per-channel (mean, std) of the training images in [0, 1], by dataset name: a view of the
# facts each dataset module declares (``neuralab.data.info(name).normalization()``), kept for
# the callers that index it. New code: ``neuralab.data.info(name)``.
NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": cifar10.INFO.normalization("cifar10"),
    "mnist": MNIST.info().normalization(),
    "fashion-mnist": FASHION_MNIST.info().normalization(),
    "emnist": emnist.info().normalization(),
    "chars36": emnist.chars36_info().normalization(),
    "digits": digits.INFO.normalization(),
    "imagenet": IMAGENET,
    "flowers17": flowers17.info().normalization(),
}


def to_tensor(split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """A :class:`Split` as ``(x, y)``: x float32 ``[N, C, H, W]`` in [0, 1], y int64 ``[N]``."""
    x = torch.from_numpy(np.ascontiguousarray(split.images)).permute(0, 3, 1, 2)
    x = x.to(torch.float32).div_(255.0).contiguous()
    return x, torch.from_numpy(np.asarray(split.labels, dtype=np.int64))


def normalize(x: torch.Tensor, dataset: str) -> torch.Tensor:
    """``(x - mean) / std`` per channel with :data:`NORMALIZATION[dataset]`; x ``[N, C, H, W]``."""
    mean, std = NORMALIZATION[dataset]
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def _randint(high: int, n: int, generator: torch.Generator | None, device) -> torch.Tensor:
    where = generator.device if generator is not None else device
    return torch.randint(0, high, (n,), generator=generator, device=where).to(device)


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator | None = None,
                mode: str = "zero") -> torch.Tensor:
    """Pad by ``padding`` on every side (``mode`` "zero" or "reflect"), crop back to H x W.

    x: ``[N, C, H, W]``; each image gets its own offset in ``[0, 2 * padding]`` on each axis.
    Returns a new ``[N, C, H, W]`` tensor on x's device.
    """
    if padding <= 0:
        return x.clone()
    n, _, h, w = x.shape
    pad_mode = {"zero": "constant", "reflect": "reflect"}[mode]
    padded = F.pad(x, (padding, padding, padding, padding), mode=pad_mode)
    dy = _randint(2 * padding + 1, n, generator, x.device)
    dx = _randint(2 * padding + 1, n, generator, x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]   # [N, H, 1]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]   # [N, 1, W]
    batch = torch.arange(n, device=x.device)[:, None, None]                # [N, 1, 1]
    # advanced indexing around the channel slice gives [N, H, W, C]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def flip_half(images: np.ndarray, seed: int) -> np.ndarray:
    """A copy of ``images`` ``[N, H, W, C]`` (uint8, as stored) with a random half of them
    mirrored left-right, one seeded coin per image: the base of airbench's alternating flip."""
    flip = np.random.default_rng(seed).random(len(images)) < 0.5
    out = np.array(images, copy=True)
    out[flip] = out[flip][:, :, ::-1]
    return out


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None,
                p: float = 0.5) -> torch.Tensor:
    """Flip each image of ``[N, C, H, W]`` left-right with probability ``p``."""
    where = generator.device if generator is not None else x.device
    flip = (torch.rand(x.shape[0], generator=generator, device=where) < p).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)
