"""Loss functions: ``forward(scores, targets) -> float`` and ``backward() -> dscores``.

``S`` is the batch size and ``K`` the number of classes/outputs. Targets are integer
labels ``[S]`` or a ``[S, K]`` matrix (one-hot; BCE also takes multi-hot). ``dscores`` has
the shape and dtype of ``scores``.
"""

from __future__ import annotations

import numpy as np

from neuralab.errors import NeuralabError
from neuralab.scratch.functional import as_target_matrix, sigmoid


class Loss:
    """Base class of the losses (no parameters)."""

    params: dict[str, np.ndarray] = {}
    grads: dict[str, np.ndarray] = {}

    def forward(self, scores: np.ndarray, targets: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, scores: np.ndarray, targets: np.ndarray) -> float:
        return self.forward(scores, targets)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _is_labels(targets: np.ndarray) -> bool:
    return targets.ndim == 1 and np.issubdtype(targets.dtype, np.integer)


class CrossEntropy(Loss):
    """Cross-entropy of given class probabilities (e.g. a :class:`Softmax` output).

    ``L = -(1/S) sum_s sum_k y_sk log p_sk``; input ``p [S, K]`` (probabilities).
    Backward: ``dp = -y / (S p)``. ``p`` is floored at the dtype's smallest normal number
    so that ``log 0`` cannot occur. Prefer :class:`SoftmaxCrossEntropy` on logits.
    """

    def forward(self, scores: np.ndarray, targets: np.ndarray) -> float:
        p = np.maximum(scores, np.finfo(scores.dtype).tiny)
        y = as_target_matrix(targets, scores)
        self._p, self._y = p, y
        return float(-np.sum(y * np.log(p)) / p.shape[0])

    def backward(self) -> np.ndarray:
        return -self._y / (self._p * self._p.shape[0])


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by cross-entropy, fused and numerically stable, on logits.

    ``L = -(1/S) sum_s sum_k y_sk log softmax(z_s)_k`` with
    ``log softmax(z)_k = z_k - m - log sum_j exp(z_j - m)``, ``m = max_j z_j`` (so no
    ``exp`` overflows, whatever the size of the logits). Input ``z [S, K]``.
    Backward: ``dz = (softmax(z) - y) / S`` (for one-hot/soft targets whose rows sum to 1).
    """

    def forward(self, scores: np.ndarray, targets: np.ndarray) -> float:
        z = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(z)
        sum_e = e.sum(axis=1, keepdims=True)
        e /= sum_e
        z -= np.log(sum_e)  # z is now log-softmax
        self._probs = e
        t = np.asarray(targets)
        s = scores.shape[0]
        if _is_labels(t):
            if t.shape[0] != s or (s and (t.min() < 0 or t.max() >= scores.shape[1])):
                raise NeuralabError(f"need {s} integer labels in [0, {scores.shape[1]}) for "
                                    f"scores of shape {scores.shape}, got {t.shape[0]} labels")
            self._labels, self._y = t, None
            return float(-z[np.arange(s), t].sum() / s)
        y = as_target_matrix(t, scores)
        self._labels, self._y = None, y
        return float(-np.sum(y * z) / s)

    def backward(self) -> np.ndarray:
        s = self._probs.shape[0]
        if self._labels is not None:
            d = self._probs.copy()
            d[np.arange(s), self._labels] -= 1
        else:
            d = self._probs - self._y
        d /= s
        return d


class BinaryCrossEntropy(Loss):
    """Per-class binary cross-entropy, summed over classes:
    ``J_s = sum_k -y_sk log u_sk - (1 - y_sk) log(1 - u_sk)``.

    ``u`` is ``sigmoid(z)`` by default (independent per-class probabilities); with
    ``activation="softmax"`` it is ``softmax(z)``. ``reduction="mean"`` (default) averages
    ``J_s`` over the batch (``L = (1/S) sum_s J_s``), ``"sum"`` adds them.

    Sigmoid, computed from the logits without ``log(0)``:
    ``J = sum_k softplus(z_k) - y_k z_k`` with ``softplus(z) = max(z, 0) + log1p(exp(-|z|))``;
    backward ``dz = (sigmoid(z) - y) / S``.

    Softmax: ``dJ/du_k = (u_k - y_k) / (u_k (1 - u_k))``, then the softmax Jacobian:
    ``dz = u * (g - sum_k g_k u_k)``, ``g = dJ/du`` (divided by ``S`` for the mean).
    """

    def __init__(self, activation: str = "sigmoid", reduction: str = "mean") -> None:
        if activation not in ("sigmoid", "softmax"):
            raise NeuralabError(f"activation must be 'sigmoid' or 'softmax', not {activation!r}")
        if reduction not in ("mean", "sum"):
            raise NeuralabError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
        self.activation, self.reduction = activation, reduction

    def forward(self, scores: np.ndarray, targets: np.ndarray) -> float:
        y = as_target_matrix(targets, scores)
        self._y = y
        self._scale = 1.0 / scores.shape[0] if self.reduction == "mean" else 1.0
        if self.activation == "sigmoid":
            self._u = sigmoid(scores)
            softplus = np.maximum(scores, 0) + np.log1p(np.exp(-np.abs(scores)))
            return float(np.sum(softplus - y * scores) * self._scale)
        z = scores - scores.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1, keepdims=True))
        log_u = z - log_norm
        u = np.exp(log_u)
        self._u = u
        tiny = np.finfo(scores.dtype).tiny
        log_1mu = np.log(np.maximum(-np.expm1(log_u), tiny))
        return float(-np.sum(y * log_u + (1 - y) * log_1mu) * self._scale)

    def backward(self) -> np.ndarray:
        u, y = self._u, self._y
        if self.activation == "sigmoid":
            d = u - y
            d *= self._scale
            return d
        tiny = np.finfo(u.dtype).tiny
        g = (u - y) / np.maximum(u * (1 - u), tiny)
        d = u * (g - np.sum(g * u, axis=1, keepdims=True))
        d *= self._scale
        return d

    def __repr__(self) -> str:
        return f"BinaryCrossEntropy(activation={self.activation!r}, reduction={self.reduction!r})"


class SquaredError(Loss):
    """Sum of squared errors over the batch and the outputs (hw5's autoencoder loss):
    ``L = sum_s sum_k (x_sk - y_sk)^2``. Backward: ``dx = 2 (x - y)``.

    ``reduction="mean"`` divides by the batch size ``S`` instead (gradient ``2 (x - y) / S``).
    """

    def __init__(self, reduction: str = "sum") -> None:
        if reduction not in ("mean", "sum"):
            raise NeuralabError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
        self.reduction = reduction

    def forward(self, scores: np.ndarray, targets: np.ndarray) -> float:
        t = np.asarray(targets)
        if t.shape != scores.shape:
            raise NeuralabError(f"targets {t.shape} must match predictions {scores.shape}")
        self._diff = scores - t.astype(scores.dtype, copy=False)
        self._scale = 1.0 / scores.shape[0] if self.reduction == "mean" else 1.0
        return float(np.sum(self._diff * self._diff) * self._scale)

    def backward(self) -> np.ndarray:
        return self._diff * (2.0 * self._scale)

    def __repr__(self) -> str:
        return f"SquaredError(reduction={self.reduction!r})"
