"""Stochastic gradient descent with momentum and weight decay, updating arrays in place."""

from __future__ import annotations

import numpy as np

from neuralab.errors import NeuralabError


class SGD:
    """SGD with (heavy-ball) momentum and L2 weight decay, in hw5's form.

    For every parameter ``W`` with gradient ``dW``::

        g = dW + weight_decay * W        (decay only on weights, see below)
        M = momentum * M - lr * g        (M starts at 0)
        W = W + M

    With ``momentum=0`` this is plain ``W -= lr * g``. The velocity ``M`` equals
    ``-lr * v`` of torch's ``v = momentum * v + g; W -= lr * v``, so both give the same
    iterates for a constant learning rate.

    Weight decay is the gradient of ``(weight_decay / 2) * ||W||^2``; like HLCV/CS231n's L2
    regulariser it applies to parameters whose name ends in ``weight`` and not to biases
    (``decay_all=True`` decays every parameter, as torch does).

    ``model`` is any object with ``params``/``grads`` dicts (a module, a Sequential, or a
    plain holder); the arrays are captured once and updated in place.
    """

    def __init__(self, model, lr: float = 1e-2, momentum: float = 0.0,
                 weight_decay: float = 0.0, decay_all: bool = False) -> None:
        if lr <= 0 or not 0 <= momentum < 1 or weight_decay < 0:
            raise NeuralabError("SGD needs lr > 0, 0 <= momentum < 1 and weight_decay >= 0")
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        params, grads = model.params, model.grads
        if params.keys() != grads.keys():
            raise NeuralabError("params and grads must have the same keys")
        self.names = list(params)
        self.params = [params[k] for k in self.names]
        self.grads = [grads[k] for k in self.names]
        self.decay = [decay_all or k.endswith("weight") for k in self.names]
        self.velocity = [np.zeros_like(p) for p in self.params] if momentum else None
        self._buf = [np.empty_like(p) for p in self.params]

    def step(self) -> None:
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        for i, (p, g, buf) in enumerate(zip(self.params, self.grads, self._buf, strict=True)):
            np.multiply(g, lr, out=buf)                 # buf = lr * dW
            if wd and self.decay[i]:
                buf += (lr * wd) * p                    # buf = lr * (dW + wd * W)
            if self.velocity is None:
                p -= buf
            else:
                m = self.velocity[i]
                m *= mu
                m -= buf                                # M = mu M - lr g
                p += m

    def state_dict(self) -> dict[str, np.ndarray]:
        """The optimiser's state for a checkpoint: ``{"velocity.<name>": M}`` (empty without
        momentum); the learning rate is set by the training loop at every step."""
        if self.velocity is None:
            return {}
        return {f"velocity.{k}": m.copy() for k, m in zip(self.names, self.velocity,
                                                           strict=True)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict` in place (the velocity arrays are kept, not rebound)."""
        if self.velocity is None:
            return
        for k, m in zip(self.names, self.velocity, strict=True):
            m[...] = state[f"velocity.{k}"]

    def zero_grad(self) -> None:
        for g in self.grads:
            g.fill(0)

    def __repr__(self) -> str:
        return (f"SGD(lr={self.lr}, momentum={self.momentum}, "
                f"weight_decay={self.weight_decay})")
