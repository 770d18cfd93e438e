"""Stateless helpers: stable sigmoid/softmax, one-hot targets, and the 2-D convolution of
the theory exercises.
"""

from __future__ import annotations

import numpy as np

from neuralab.errors import NeuralabError
from neuralab.scratch.base import as_float


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow: ``exp`` only ever sees ``-|x|``.

    For ``x >= 0`` it is ``1 / (1 + e)``, for ``x < 0`` it is ``e / (1 + e)``, with
    ``e = exp(-|x|)`` in (0, 1]. The result has ``x``'s float dtype; integer input gives
    float64 (``sigmoid([0, 1, -1]) = [0.5, 0.731, 0.269]``).
    """
    x = as_float(x)
    e = np.exp(-np.abs(x))
    out = 1.0 / (1.0 + e)
    np.multiply(out, e, out=out, where=x < 0)
    return out.astype(x.dtype, copy=False)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``x_k - log sum_j exp(x_j)``, computed after subtracting the row maximum."""
    x = as_float(x)
    z = x - x.max(axis=axis, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return z


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(x_k) / sum_j exp(x_j)`` with the max trick (shift by the row max)."""
    x = as_float(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def one_hot(targets: np.ndarray, n_classes: int, dtype=np.float64) -> np.ndarray:
    """Integer labels ``[S]`` -> one-hot ``[S, n_classes]``."""
    t = np.asarray(targets)
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer):
        raise NeuralabError(f"one_hot needs a 1-D integer label array, got {t.dtype} {t.shape}")
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        raise NeuralabError(f"labels must lie in [0, {n_classes}), got [{t.min()}, {t.max()}]")
    out = np.zeros((t.shape[0], n_classes), dtype=dtype)
    out[np.arange(t.shape[0]), t] = 1
    return out


def as_target_matrix(targets: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Targets as a ``[S, K]`` matrix in the scores' dtype: integer labels become one-hot,
    a matrix (one-hot, multi-hot, or soft) is checked for shape and passed through."""
    t = np.asarray(targets)
    if t.ndim == 1 and np.issubdtype(t.dtype, np.integer):
        return one_hot(t, scores.shape[1], dtype=scores.dtype)
    if t.shape != scores.shape:
        raise NeuralabError(
            f"targets of shape {t.shape} do not match scores {scores.shape}; give integer "
            f"labels [S] or a one-hot matrix [S, K]"
        )
    return t.astype(scores.dtype, copy=False)


_PAD_MODES = {"zero": "constant", "reflect": "reflect", "symmetric": "symmetric"}


def conv2d(image: np.ndarray, kernel: np.ndarray, padding: str = "zero") -> np.ndarray:
    """True 2-D convolution of one image with one kernel, same-size output.

    ``out[i, j] = sum_{u, v} kernel[u, v] * padded[i + ch - u, j + cw - v]`` with
    ``(ch, cw)`` the kernel centre: the kernel is flipped in both axes (this is what
    TDT4265 calls convolution; CNN layers compute the unflipped cross-correlation).

    ``padding``:
      - ``"zero"``: pixels outside the image are 0;
      - ``"reflect"``: mirror about the border pixel without repeating it
        (``... c b | a b c ...``; numpy ``reflect``, OpenCV ``BORDER_REFLECT_101``);
      - ``"symmetric"``: mirror repeating the border pixel (``... b a | a b c ...``).

    Shapes: ``image [H, W]``, ``kernel [kh, kw]`` with odd sides -> ``[H, W]``.
    """
    img = np.asarray(image)
    ker = np.asarray(kernel)
    if img.ndim != 2 or ker.ndim != 2:
        raise NeuralabError("conv2d takes a 2-D image and a 2-D kernel")
    kh, kw = ker.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise NeuralabError(f"conv2d needs odd kernel sides, got {ker.shape}")
    if padding not in _PAD_MODES:
        raise NeuralabError(f"padding must be one of {sorted(_PAD_MODES)}, not {padding!r}")
    ph, pw = kh // 2, kw // 2
    padded = np.pad(img, ((ph, ph), (pw, pw)), mode=_PAD_MODES[padding])
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw))  # [H, W, kh, kw]
    return np.einsum("ijuv,uv->ij", windows, ker[::-1, ::-1])
