"""Batches from tensors held in memory: the device-resident fast path and the default loader.

A whole split lives as one tensor (CIFAR-10 is 150 MB as uint8), on the training device when it
fits. Each epoch's order is a permutation drawn from a generator seeded by ``(seed, epoch)``,
so every rank of a DDP job draws the *same* permutation and takes its own shard
``order[rank::world_size]`` (DistributedSampler semantics: the order is padded by repeating its
head so all ranks get equally many batches). The per-batch ``transform`` (uint8 -> float,
augmentation, normalisation) runs on the device with its own generator, whose state is part of
:meth:`state_dict`: together with the epoch and the batch position that is all exact resume needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

Transform = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + 12_345) % (2**63)


class TensorLoader:
    """Iterate ``(x, y)`` mini-batches over in-memory tensors.

    Args:
        x: inputs ``[N, ...]`` (numpy or torch; uint8 images stay uint8 until ``transform``).
        y: targets ``[N]`` or ``[N, ...]``.
        batch_size: per-rank batch size.
        shuffle: new permutation each epoch (else the natural order).
        transform: ``f(x_batch, generator) -> x_batch`` applied on the device to every batch.
        drop_last: drop the last incomplete batch (training usually does).
        rank, world_size: this process's shard under DDP (eval loaders are not padded).
    """

    def __init__(self, x, y, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                 transform: Transform | None = None, device: str | torch.device = "cpu",
                 drop_last: bool = False, rank: int = 0, world_size: int = 1,
                 pad_shards: bool | None = None):
        self.x = torch.as_tensor(np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x)
        self.y = torch.as_tensor(np.ascontiguousarray(y) if isinstance(y, np.ndarray) else y)
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} rows but y has {len(self.y)}")
        self.device = torch.device(device)
        self.x, self.y = self.x.to(self.device), self.y.to(self.device)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.transform, self.drop_last = transform, drop_last
        self.rank, self.world_size = rank, world_size
        self.pad_shards = shuffle if pad_shards is None else pad_shards
        self.epoch, self.position = 0, 0
        self._resume_from: int | None = None  # set by load_state_dict for a mid-epoch restart
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(_epoch_seed(seed, 0) + rank)
        self._tell_transform(0)

    def _tell_transform(self, epoch: int) -> None:
        """Transforms that change with the epoch (e.g. :class:`AlternatingFlip`) hear of it."""
        if hasattr(self.transform, "set_epoch"):
            self.transform.set_epoch(epoch)

    def __len__(self) -> int:
        n = self._shard_size()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_samples(self) -> int:
        return len(self.x)

    def _shard_size(self) -> int:
        n, w = len(self.x), self.world_size
        if self.pad_shards:
            return -(-n // w)
        return len(range(self.rank, n, w))

    def _order(self, epoch: int) -> torch.Tensor:
        n = len(self.x)
        if self.shuffle:
            g = torch.Generator().manual_seed(_epoch_seed(self.seed, epoch))
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        if self.world_size > 1:
            if self.pad_shards:
                total = -(-n // self.world_size) * self.world_size
                order = torch.cat([order, order[: total - n]])
            order = order[self.rank :: self.world_size]
        return order.to(self.device)

    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` from its first batch (the trainer calls this at every epoch start)."""
        self.epoch, self.position, self._resume_from = epoch, 0, None
        self.generator.manual_seed(_epoch_seed(self.seed, epoch) + self.rank)
        self._tell_transform(epoch)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        start, self._resume_from = self._resume_from or 0, None
        order = self._order(self.epoch)
        for b in range(start, len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            xb, yb = self.x[idx], self.y[idx]
            if self.transform is not None:
                xb = self.transform(xb, self.generator)
            self.position = b + 1
            yield xb, yb

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position,
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = state["epoch"], state["position"]
        self._resume_from = self.position
        self.generator.set_state(state["generator"])
        self._tell_transform(self.epoch)


def image_transform(mean=None, std=None, *, crop_padding: int = 0, flip: bool = False,
                    channels_last: bool = False, padding_mode: str = "reflect") -> Transform:
    """uint8 ``[B, H, W, C]`` (or float ``[B, C, H, W]``) -> normalised float ``[B, C, H, W]``.

    Augmentation (random crop after ``crop_padding`` pixels of padding, horizontal flip) is
    applied only when ``crop_padding``/``flip`` ask for it, so the same function builds train
    and eval transforms. ``mean``/``std`` are per channel in [0, 1] units.
    """
    from neuralab.data.augment import random_crop, random_flip

    def transform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.permute(0, 3, 1, 2).float().div_(255.0) if x.ndim == 4 else x.float() / 255
        if crop_padding:
            x = random_crop(x, crop_padding, generator=generator, mode=padding_mode)
        if flip:
            x = random_flip(x, generator=generator)
        if mean is not None:
            m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
            s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
            x = (x - m) / s
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    return transform


class AlternatingFlip:
    """airbench's alternating flip around another transform: every image of the batch is
    mirrored on odd epochs and left as it is on even ones.

    Stored images that were each flipped at random once beforehand
    (:func:`neuralab.data.augment.flip_half`) are thus seen both ways in every pair of
    epochs, instead of a fresh coin toss per epoch that repeats a view half of the time.
    The loader calls :meth:`set_epoch`.
    """

    def __init__(self, transform: Transform) -> None:
        self.transform, self.epoch = transform, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        x = self.transform(x, generator)
        if self.epoch % 2 == 0:
            return x
        flipped = x.flip(-1)
        if x.is_contiguous(memory_format=torch.channels_last):
            flipped = flipped.contiguous(memory_format=torch.channels_last)
        return flipped
