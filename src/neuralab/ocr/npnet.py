"""Inference of the character networks in NumPy, so that ``neuralab ocr`` never imports torch.

Importing torch costs 0.5 s on an idle 2-core machine and several seconds on a loaded one; a
page of ~150 crops needs about 4 GMAC of convolutions, a fraction of a second in NumPy's BLAS.
Only inference is here (training stays in PyTorch): the weights are the trainer's
``model.safetensors``, read with ``safetensors.numpy``, and a test checks every output
against :mod:`neuralab.models.charcnn` on the same weights.

Supported: ``char_cnn`` (:class:`neuralab.models.charcnn.CharCNN`, eval mode: BatchNorm
folded into the convolutions, dropout off) and ``char_fc`` (:class:`CharFC`). Anything else
goes through PyTorch (:func:`neuralab.ocr.classifier.load_classifier`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from neuralab.errors import NeuralabError

SUPPORTED = ("char_cnn", "char_fc")
BN_EPS = 1e-5  # torch.nn.BatchNorm2d's default


def load_state(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file as NumPy arrays (no torch)."""
    from safetensors.numpy import load_file

    return load_file(os.fspath(path))


def _conv3x3(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3x3 convolution, padding 1, stride 1, NHWC: ``[N, H, W, C] -> [N, H, W, K]``.

    ``w``: ``[3, 3, C, K]`` (torch's ``[K, C, 3, 3]`` transposed), ``b``: ``[K]``. One
    matrix product of the ``[N H W, 9 C]`` patch matrix (im2col) with ``[9 C, K]``: for 64
    crops of 28x28 with C = 32 the patch matrix is 58 MB (callers batch by 64).
    """
    n, h, wd, c = x.shape
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.empty((n, h, wd, 3, 3, c), dtype=np.float32)
    for dy in range(3):
        for dx in range(3):
            cols[:, :, :, dy, dx] = p[:, dy : dy + h, dx : dx + wd]
    out = cols.reshape(-1, 9 * c) @ w.reshape(9 * c, -1)
    out += b
    return out.reshape(n, h, wd, -1)


def _maxpool2(x: np.ndarray) -> np.ndarray:
    """2x2 max-pool, stride 2 (odd trailing row/column dropped, as torch does)."""
    n, h, w, c = x.shape
    x = x[:, : h // 2 * 2, : w // 2 * 2]
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


class NumpyCharCNN:
    """:class:`~neuralab.models.charcnn.CharCNN` in eval mode: ``[N, 1, S, S] -> [N, K]``.

    Six conv-BN-ReLU layers (BN folded into each convolution's weights and bias), max-pools
    after the 2nd and 4th, global average pool, linear head.
    """

    POOL_AFTER = (1, 3)  # layer indices followed by a 2x2 max-pool

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self.layers: list[tuple[np.ndarray, np.ndarray]] = []
        # features.{0,1,3,4,6,7}.{0: conv, 1: bn}
        for idx in (0, 1, 3, 4, 6, 7):
            pre = f"features.{idx}"
            try:
                w = state[f"{pre}.0.weight"].astype(np.float32)  # [K, C, 3, 3]
                gamma, beta = state[f"{pre}.1.weight"], state[f"{pre}.1.bias"]
                mean, var = state[f"{pre}.1.running_mean"], state[f"{pre}.1.running_var"]
            except KeyError as e:
                raise NeuralabError(f"not a char_cnn state: {e.args[0]} is missing") from None
            scale = (gamma / np.sqrt(var + BN_EPS)).astype(np.float32)
            w = (w * scale[:, None, None, None]).transpose(2, 3, 1, 0)  # [3, 3, C, K]
            self.layers.append((np.ascontiguousarray(w, dtype=np.float32),
                                (beta - mean * scale).astype(np.float32)))
        try:
            self.head_w = state["head.3.weight"].astype(np.float32).T.copy()  # [w3, K]
            self.head_b = state["head.3.bias"].astype(np.float32)
        except KeyError as e:
            raise NeuralabError(f"not a char_cnn state: {e.args[0]} is missing") from None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32).transpose(0, 2, 3, 1)  # [N, S, S, C]
        for i, (w, b) in enumerate(self.layers):
            x = np.maximum(_conv3x3(x, w, b), 0.0)
            if i in self.POOL_AFTER:
                x = _maxpool2(x)
        return x.mean(axis=(1, 2)) @ self.head_w + self.head_b  # [N, K]


class NumpyCharFC:
    """:class:`~neuralab.models.charcnn.CharFC`: flatten, linear, sigmoid, linear."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        try:
            self.w1, self.b1 = state["hidden.weight"].T.copy(), state["hidden.bias"]
            self.w2, self.b2 = state["out.weight"].T.copy(), state["out.bias"]
        except KeyError as e:
            raise NeuralabError(f"not a char_fc state: {e.args[0]} is missing") from None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, dtype=np.float32).reshape(len(x), -1) @ self.w1 + self.b1
        return (1.0 / (1.0 + np.exp(-h))) @ self.w2 + self.b2


def build(model: str, kwargs: dict[str, Any], state: dict[str, np.ndarray]):
    """The NumPy twin of registered model ``model`` with ``state``'s weights, or None when
    there is none (the caller then uses PyTorch). Shapes are checked by the first call."""
    if model == "char_cnn":
        if int(kwargs.get("in_channels", 1)) != 1:
            return None
        return NumpyCharCNN(state)
    if model == "char_fc":
        return NumpyCharFC(state)
    return None
