"""Convolution and max-pooling layers on NCHW batches, via im2col.

Notation: input ``x [N, C, H, W]``; kernel ``kh x kw``; stride ``s``; zero padding ``p``;
output size ``Ho = (H + 2p - kh) // s + 1`` (same for ``Wo``).

im2col lays every receptive field out as one column: ``cols [C*kh*kw, N*Ho*Wo]`` with row
``(c, i, j)`` and column ``(n, ho, wo)`` holding ``xpad[n, c, ho*s + i, wo*s + j]``. A
convolution is then one matrix product. col2im is its adjoint: it adds every column entry
back to the input pixel it was read from (overlapping windows add up). Both loop over the
``kh*kw`` kernel offsets only; each iteration moves a whole strided slab of the batch.
"""

from __future__ import annotations

import numpy as np

from neuralab.errors import NeuralabError
from neuralab.scratch.base import Module, compute_dtype, make_rng, resolve_dtype
from neuralab.scratch.init import get_initializer


def _pair(v) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    a, b = v
    return int(a), int(b)


def out_size(size: int, k: int, s: int, p: int) -> int:
    o = (size + 2 * p - k) // s + 1
    if o <= 0:
        raise NeuralabError(f"kernel {k} with stride {s}, padding {p} does not fit size {size}")
    return o


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int,
           pad_value: float = 0.0, out: np.ndarray | None = None) -> np.ndarray:
    """``x [N, C, H, W] -> cols [C*kh*kw, N*Ho*Wo]`` (see the module docstring).

    ``out``: an optional buffer of that shape and ``x``'s dtype to write into.
    """
    n, c, h, w = x.shape
    ho, wo = out_size(h, kh, stride, padding), out_size(w, kw, stride, padding)
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                   constant_values=pad_value)
    shape6 = (c, kh, kw, n, ho, wo)
    if out is not None and out.shape == (c * kh * kw, n * ho * wo) and out.dtype == x.dtype:
        cols = out.reshape(shape6)
    else:
        cols = np.empty(shape6, dtype=x.dtype)
    he, we = stride * (ho - 1) + 1, stride * (wo - 1) + 1
    for i in range(kh):
        for j in range(kw):
            # [N, C, Ho, Wo] slab of the pixels under kernel offset (i, j), written as [C, N, ..]
            cols[:, i, j] = x[:, :, i:i + he:stride, j:j + we:stride].transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * ho * wo)


def col2im(cols: np.ndarray, x_shape: tuple[int, ...], kh: int, kw: int, stride: int,
           padding: int) -> np.ndarray:
    """Adjoint of :func:`im2col`: ``cols [C*kh*kw, N*Ho*Wo] -> dx [N, C, H, W]``, summing the
    contributions of overlapping windows."""
    n, c, h, w = x_shape
    ho, wo = out_size(h, kh, stride, padding), out_size(w, kw, stride, padding)
    dxp = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    cols6 = cols.reshape(c, kh, kw, n, ho, wo)
    he, we = stride * (ho - 1) + 1, stride * (wo - 1) + 1
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + he:stride, j:j + we:stride] += cols6[:, i, j].transpose(1, 0, 2, 3)
    if padding:
        return dxp[:, :, padding:-padding, padding:-padding]
    return dxp


class Conv2d(Module):
    """2-D convolution layer (cross-correlation, as in every CNN library), NCHW.

    ``y[n, f, a, b] = b_f + sum_{c,i,j} W[f, c, i, j] * xpad[n, c, a*s + i, b*s + j]``.

    Shapes: ``x [N, C, H, W]``, ``W [F, C, kh, kw]`` (``params["weight"]``), ``b [F]``,
    ``y [N, F, Ho, Wo]``.

    With ``X = im2col(x) [C*kh*kw, N*Ho*Wo]``, ``Wm = W.reshape(F, -1)`` and
    ``dY = dy`` laid out as ``[F, N*Ho*Wo]``, the forward pass is ``Y = Wm X + b`` and the
    backward pass is ``dW = dY X^T``, ``db = sum over (n, a, b) of dy``,
    ``dx = col2im(Wm^T dY)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int = 0,
        init="xavier",
        init_std: float | None = None,
        dtype=np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding = int(stride), int(padding)
        if self.stride < 1 or self.padding < 0:
            raise NeuralabError("Conv2d needs stride >= 1 and padding >= 0")
        self.dtype = resolve_dtype(dtype)
        shape = (out_channels, in_channels, *self.kernel_size)
        weight = get_initializer(init, init_std)(shape, make_rng(rng), self.dtype)
        self.params = {"weight": np.ascontiguousarray(weight, dtype=self.dtype),
                       "bias": np.zeros(out_channels, dtype=self.dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        x = x.astype(compute_dtype(x, self.dtype), copy=False)  # float64 stays float64
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise NeuralabError(
                f"Conv2d expects [N, {self.in_channels}, H, W] input, got shape {x.shape}"
            )
        kh, kw = self.kernel_size
        n, _, h, w = x.shape
        ho = out_size(h, kh, self.stride, self.padding)
        wo = out_size(w, kw, self.stride, self.padding)
        self._x_shape = x.shape
        # The column buffer is reused while the input shape stays the same: allocating
        # (and page-faulting) tens of MB on every call costs as much as filling them.
        self._cols = im2col(x, kh, kw, self.stride, self.padding,
                            out=getattr(self, "_cols", None))
        wmat = self.params["weight"].reshape(self.out_channels, -1)
        y = wmat @ self._cols                                   # [F, N*Ho*Wo]
        y += self.params["bias"][:, None]
        return y.reshape(self.out_channels, n, ho, wo).transpose(1, 0, 2, 3)

    def backward(self, dout: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        f = self.out_channels
        dy = dout.transpose(1, 0, 2, 3).reshape(f, -1)          # [F, N*Ho*Wo]
        np.matmul(dy, self._cols.T, out=self.grads["weight"].reshape(f, -1))
        np.sum(dy, axis=1, out=self.grads["bias"])
        if not need_input_grad:
            return None
        dcols = self.params["weight"].reshape(f, -1).T @ dy     # [C*kh*kw, N*Ho*Wo]
        kh, kw = self.kernel_size
        return col2im(dcols, self._x_shape, kh, kw, self.stride, self.padding)

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size},"
                f" stride={self.stride}, padding={self.padding}, dtype={self.dtype.name})")


class MaxPool2d(Module):
    """Max pooling over ``k x k`` windows with stride ``s`` (default ``k``), NCHW.

    ``y[n, c, a, b] = max_{i,j} xpad[n, c, a*s + i, b*s + j]`` (padding with ``-inf``).

    Backward: each ``dy`` entry goes to the arg-max pixel of its window (the first one on
    ties); overlapping windows add up.
    """

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0) -> None:
        super().__init__()
        self.kernel_size = int(kernel_size)
        self.stride = int(stride) if stride is not None else self.kernel_size
        self.padding = int(padding)
        if self.padding * 2 > self.kernel_size:
            raise NeuralabError("MaxPool2d padding must be at most half the kernel size")

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        ho, wo = out_size(h, k, s, p), out_size(w, k, s, p)
        # Pool each channel of each image independently: treat [N*C] as the batch.
        cols = im2col(x.reshape(n * c, 1, h, w), k, k, s, p, pad_value=-np.inf)  # [k*k, NC*Ho*Wo]
        arg = cols.argmax(axis=0)
        self._arg, self._x_shape, self._dtype = arg, x.shape, x.dtype
        out = cols[arg, np.arange(cols.shape[1])]
        return out.reshape(n, c, ho, wo)

    def backward(self, dout: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        n, c, h, w = self._x_shape
        k = self.kernel_size
        m = self._arg.shape[0]
        dcols = np.zeros((k * k, m), dtype=dout.dtype)
        dcols[self._arg, np.arange(m)] = dout.reshape(-1)
        dx = col2im(dcols, (n * c, 1, h, w), k, k, self.stride, self.padding)
        return dx.reshape(n, c, h, w)

    def __repr__(self) -> str:
        return f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride})"
