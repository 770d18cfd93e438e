"""Random palindromic digit strings: the RNN memory task of the UvA DL assignment 2.

A palindrome of length ``T = seq_length`` is ``ceil(T / 2)`` random digits followed by their
mirror (without repeating the middle digit when T is odd). The input is the first ``T - 1``
digits and the target the last one, which equals the first: the network must remember it over
``T - 1`` steps. As in the handout's ``PalindromeDataset``, scalar inputs are the raw digit
values 0-9 as floats (``input_dim = 1``); ``one_hot=True`` gives 10-dim one-hot vectors instead.
Batch-first. The stream is infinite and seeded by its own ``numpy.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from neuralab.errors import NeuralabError

NUM_CLASSES = 10


class PalindromeDataset:
    """``PalindromeDataset(T, seed=None, one_hot=False)``: ``.batch(B) -> (x, y)``.

    x: float32 ``[B, T-1, 1]`` (digit values) or ``[B, T-1, 10]`` (one-hot); y: int64 ``[B]``.
    """

    def __init__(self, seq_length: int, seed: int | None = None, one_hot: bool = False,
                 batch_size: int = 128):
        if int(seq_length) < 2:
            raise NeuralabError(f"palindrome seq_length must be >= 2, got {seq_length}")
        self.seq_length = int(seq_length)
        self.one_hot = bool(one_hot)
        self.batch_size = int(batch_size)
        self.rng = np.random.default_rng(seed)

    @property
    def input_dim(self) -> int:
        return NUM_CLASSES if self.one_hot else 1

    def sample(self, n: int) -> np.ndarray:
        """``n`` full palindromes as int64 digits ``[n, T]``."""
        half = (self.seq_length + 1) // 2
        left = self.rng.integers(0, NUM_CLASSES, size=(n, half), dtype=np.int64)
        mirror = left[:, : self.seq_length - half][:, ::-1]
        return np.concatenate([left, mirror], axis=1)

    def encode(self, digits: np.ndarray) -> torch.Tensor:
        """Inputs for the digits ``[B, L]``: float32 ``[B, L, 1]`` or one-hot ``[B, L, 10]``."""
        t = torch.from_numpy(np.ascontiguousarray(digits))
        if self.one_hot:
            return torch.nn.functional.one_hot(t, NUM_CLASSES).to(torch.float32)
        return t.to(torch.float32).unsqueeze(-1)

    def batch(self, batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A fresh random batch: ``(x [B, T-1, input_dim] float32, y [B] int64)``."""
        full = self.sample(batch_size or self.batch_size)
        return self.encode(full[:, :-1]), torch.from_numpy(full[:, -1].copy())

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless batches of ``batch_size``."""
        while True:
            yield self.batch()
