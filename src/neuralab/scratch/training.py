"""Thin training helpers for the NumPy engine: one step, minibatches, predictions."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from neuralab.errors import NeuralabError
from neuralab.scratch.base import make_rng


def train_step(model, loss_fn, optimizer, x: np.ndarray, y: np.ndarray) -> float:
    """forward -> loss -> backward -> optimiser update; returns the loss (before the update).

    The model's input gradient is not computed (nothing consumes it).
    """
    scores = model.forward(x)
    loss = loss_fn.forward(scores, y)
    model.backward(loss_fn.backward(), need_input_grad=False)
    optimizer.step()
    return loss


def iterate_minibatches(
    x: np.ndarray,
    y: np.ndarray | None = None,
    batch_size: int = 200,
    shuffle: bool = True,
    rng: np.random.Generator | int | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Yield ``(x_batch, y_batch)`` pairs covering the data once (one epoch).

    ``shuffle`` draws a fresh permutation from ``rng``; ``drop_last`` skips a final
    incomplete batch. ``y`` may be ``None`` (unsupervised data, e.g. the autoencoder).
    """
    n = len(x)
    if y is not None and len(y) != n:
        raise NeuralabError(f"x has {n} samples but y has {len(y)}")
    if batch_size < 1:
        raise NeuralabError(f"batch_size must be >= 1, got {batch_size}")
    order = make_rng(rng).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], (None if y is None else y[idx])


def predict_scores(model, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """``model.forward`` over ``x`` in chunks of ``batch_size`` (all at once if ``None``)."""
    if batch_size is None or len(x) <= batch_size:
        return model.forward(x)
    return np.concatenate([model.forward(x[i:i + batch_size])
                           for i in range(0, len(x), batch_size)])


def predict(model, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """Predicted class labels ``[S]``: the arg-max of the scores."""
    return predict_scores(model, x, batch_size).argmax(axis=1)


def accuracy(scores: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of rows whose arg-max score is the target class (``targets``: labels ``[S]``
    or one-hot ``[S, K]``), as UvA's ``accuracy(predictions, targets)``."""
    t = np.asarray(targets)
    labels = t.argmax(axis=1) if t.ndim == 2 else t
    return float(np.mean(np.asarray(scores).argmax(axis=1) == labels))
