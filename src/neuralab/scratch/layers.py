"""Fully connected layer, element-wise activations, softmax and flatten.

Shapes: ``S`` samples, ``M`` input features, ``N`` output features. The activations
(ReLU, ELU, Sigmoid, Tanh) are element-wise and accept any shape; their output and
gradient have the input's shape and float dtype (integer input gives float64). Backward
formulas use ``dY = dL/dY`` (the ``dout`` argument) and ``*`` for the element-wise product.
"""

from __future__ import annotations

import numpy as np

from neuralab.errors import NeuralabError
from neuralab.scratch.base import Module, as_float, compute_dtype, make_rng, resolve_dtype
from neuralab.scratch.functional import sigmoid
from neuralab.scratch.init import get_initializer


class Linear(Module):
    """Affine map ``Y = X W^T + b``.

    Shapes: ``X [S, M]``, ``W [N, M]`` (``params["weight"]``), ``b [N]``
    (``params["bias"]``), ``Y [S, N]``.

    Backward: ``dW = dY^T X`` ``[N, M]``; ``db = sum_s dY[s]`` ``[N]``; ``dX = dY W``
    ``[S, M]``.

    ``init`` is a name from :mod:`neuralab.scratch.init` (``xavier``, ``he``, ``normal``,
    ``zeros``) or a callable ``(shape, rng, dtype) -> array``; ``init_std`` is the std of
    ``normal`` (default 1e-4, UvA). Biases start at zero.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init="xavier",
        init_std: float | None = None,
        dtype=np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.dtype = resolve_dtype(dtype)
        weight = get_initializer(init, init_std)((out_features, in_features), make_rng(rng),
                                                 self.dtype)
        self.params = {"weight": np.ascontiguousarray(weight, dtype=self.dtype),
                       "bias": np.zeros(out_features, dtype=self.dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        x = x.astype(compute_dtype(x, self.dtype), copy=False)  # float64 stays float64
        self._x = x
        out = x @ self.params["weight"].T
        out += self.params["bias"]
        return out

    def backward(self, dout: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        np.matmul(dout.T, self._x, out=self.grads["weight"])
        np.sum(dout, axis=0, out=self.grads["bias"])
        if not need_input_grad:
            return None
        return dout @ self.params["weight"]

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features}, dtype={self.dtype.name})"


class ReLU(Module):
    """``y = max(x, 0)``. Backward: ``dx = dy * [x > 0]`` (subgradient 0 at x = 0)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float(x)
        self._mask = x > 0
        return np.where(self._mask, x, 0)

    def backward(self, dout: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        return np.where(self._mask, dout, 0)


class ELU(Module):
    """``y = x`` if ``x > 0`` else ``alpha (exp(x) - 1)`` (Clevert et al., 2015), computed as
    ``y = max(x, 0) + alpha expm1(min(x, 0))`` (no mask, no overflow for large ``x``).

    Backward: ``dx = dy`` where ``x > 0``, else ``dy * (y + alpha)`` (since
    ``d/dx alpha (e^x - 1) = alpha e^x = y + alpha``). As ``min(y, 0) = y`` for ``x <= 0``
    and ``0`` otherwise, the local gradient is ``min(y, 0) + alpha`` wherever that is right,
    i.e. everywhere when ``alpha = 1``; other alphas then set the ``x > 0`` entries to 1.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        if not alpha > 0:  # the sign of y then tells the two branches apart in backward
            raise NeuralabError(f"ELU needs alpha > 0, got {alpha}")
        self.alpha = float(alpha)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float(x)
        out = np.minimum(x, 0)
        np.expm1(out, out=out)
        if self.alpha != 1.0:
            out *= self.alpha
        out += np.maximum(x, 0)
        self._out = out
        return out

    def backward(self, dout: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        local = np.minimum(self._out, 0)
        local += self.alpha
        if self.alpha != 1.0:
            local[self._out > 0] = 1
        local *= dout
        return local

    def __repr__(self) -> str:
        return f"ELU(alpha={self.alpha})"


class Sigmoid(Module):
    """``y = 1 / (1 + exp(-x))``. Backward: ``dx = dy * y * (1 - y)``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._out = sigmoid(x)
        return self._out

    def backward(self, dout: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        y = self._out
        return dout * y * (1 - y)


class Tanh(Module):
    """``y = tanh(x)``. Backward: ``dx = dy * (1 - y^2)``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._out = np.tanh(as_float(x))
        return self._out

    def backward(self, dout: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        y = self._out
        return dout * (1 - y * y)


class Softmax(Module):
    """Row-wise ``y_k = exp(x_k) / sum_j exp(x_j)`` on ``[S, K]`` (max trick for stability).

    Backward (Jacobian ``dy_k/dx_j = y_k (delta_kj - y_j)`` applied per row):
    ``dx = y * (dy - sum_k dy_k y_k)``.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float(x)
        e = np.exp(x - x.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)
        self._out = e
        return e

    def backward(self, dout: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        y = self._out
        return y * (dout - np.sum(dout * y, axis=1, keepdims=True))


class Flatten(Module):
    """``[S, d1, d2, ...] -> [S, d1*d2*...]`` (a view). Backward reshapes ``dy`` back."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        return dout.reshape(self._shape)


ACTIVATIONS: dict[str, type[Module]] = {
    "elu": ELU,
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
}
