"""Pieces the NumPy-engine (``neuralab.scratch``) experiments share: images to vectors, an
epoch-shuffled batch stream, chunked evaluation, one SGD step that also counts hits, learning
rate schedules and the end-of-run confusion report.

No torch here: the scratch experiments train with the NumPy engine only (the HLCV twin imports
torch itself, inside its own run function).
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from neuralab.errors import NeuralabError
from neuralab.viz import confusion_matrix, plot_confusion, top_confusions
from neuralab.viz.confusion import per_class_accuracy


@contextlib.contextmanager
def compute_threads(n: int, torch_too: bool = False) -> Iterator[None]:
    """Run with ``n`` BLAS threads (and ``n`` torch threads when torch is loaded or
    ``torch_too``); ``n <= 0`` keeps the libraries' defaults. Restored afterwards.

    One thread is the default of the scratch experiments: their matrices are small or medium,
    and on a shared machine a multi-threaded OpenBLAS waits on busy cores (measured here: a
    36x1024 autoencoder step took 33 ms with 2 threads and 0.56 ms with 1).
    """
    if n <= 0:
        yield
        return
    if torch_too:
        import torch  # noqa: F401  (the twin needs it; loaded here so its threads are set)
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings threadpoolctl; without it, leave BLAS alone
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=n, user_api="blas")
    try:
        if torch is not None:
            torch.set_num_threads(n)
        with limits:
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(before)


def with_threads(run: Callable) -> Callable:
    """Decorator for ``run(cfg, ctx)``: run it under :func:`compute_threads` with the config's
    ``threads`` field (1 when the config has none)."""

    @functools.wraps(run)
    def wrapped(cfg, ctx):
        with compute_threads(getattr(cfg, "threads", 1), torch_too=getattr(cfg, "twin", False)):
            return run(cfg, ctx)

    return wrapped


def to_vectors(images: np.ndarray, *, channels_first: bool = False, scale: float = 1.0 / 255,
               dtype=np.float32) -> np.ndarray:
    """uint8 images ``[N, H, W, C]`` -> float rows ``[N, H*W*C]`` times ``scale``.

    ``channels_first=True`` flattens in ``C, H, W`` order (as UvA's ``cifar10_utils`` does after
    its NCHW transpose); otherwise in ``H, W, C`` order (grey images: row-major pixels).
    """
    x = images.transpose(0, 3, 1, 2) if channels_first else images
    out = np.ascontiguousarray(x.reshape(len(x), -1), dtype=dtype)
    if scale != 1.0:
        out *= out.dtype.type(scale)
    return out


def batch_stream(n: int, batch_size: int, rng: np.random.Generator,
                 drop_last: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """Endless ``(epoch, indices)``: a fresh permutation of ``range(n)`` per epoch, cut into
    batches of ``batch_size`` (the last one smaller unless ``drop_last``)."""
    if n < 1 or batch_size < 1:
        raise NeuralabError(f"need n >= 1 and batch_size >= 1, got n={n}, batch={batch_size}")
    epoch = 0
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    while True:
        order = rng.permutation(n)
        for start in range(0, stop, batch_size):
            yield epoch, order[start:start + batch_size]
        epoch += 1


def steps_per_epoch(n: int, batch_size: int, drop_last: bool = False) -> int:
    return n // batch_size if drop_last and n >= batch_size else math.ceil(n / batch_size)


def sgd_step(model, loss_fn, optimizer, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """forward -> loss -> backward -> update; returns (loss before the update, correct count)."""
    scores = model.forward(x)
    loss = loss_fn.forward(scores, y)
    model.backward(loss_fn.backward(), need_input_grad=False)
    optimizer.step()
    return loss, int(np.count_nonzero(scores.argmax(axis=1) == y))


def evaluate(model, loss_fn, x: np.ndarray, y: np.ndarray, chunk: int = 2048,
             ) -> dict[str, Any]:
    """Mean loss, accuracy and predicted labels of ``model`` on ``(x, y)``, in chunks.

    ``loss_fn`` must average over the batch (``reduction="mean"``); chunk means are weighted
    by chunk size so the result is the mean over all samples.
    """
    total, preds = 0.0, []
    for i in range(0, len(x), chunk):
        scores = model.forward(x[i:i + chunk])
        total += loss_fn.forward(scores, y[i:i + chunk]) * len(scores)
        preds.append(scores.argmax(axis=1))
    pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    return {"loss": total / max(len(x), 1), "accuracy": float(np.mean(pred == y)) if len(y)
            else float("nan"), "pred": pred}


def lr_at(kind: str, base: float, step: int, total: int, warmup: int = 0,
          milestones: tuple[float, ...] = (0.5, 0.75), gamma: float = 0.1) -> float:
    """Learning rate for (0-based) ``step`` of ``total``.

    ``none``: constant. ``cosine``: linear warm-up over ``warmup`` steps, then half a cosine
    from ``base`` to 0. ``step``: multiplied by ``gamma`` at each fraction in ``milestones``.
    """
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    if kind == "none":
        return base
    if kind == "cosine":
        t = (step - warmup) / max(total - warmup, 1)
        return base * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    if kind == "step":
        return base * gamma ** sum(step >= m * total for m in milestones)
    raise NeuralabError(f"unknown lr schedule {kind!r}; use none, cosine or step")


def confusion_report(ctx, y_true: np.ndarray, y_pred: np.ndarray, classes: list[str],
                     title: str, plot_name: str = "confusion", k: int = 10,
                     ) -> dict[str, list[dict]]:
    """Draw the confusion matrix and return the ``per_class_accuracy`` and ``top_confusions``
    tables (class counts are kept: accuracies of rare classes are noisy)."""
    cm = confusion_matrix(y_true, y_pred, len(classes))
    ctx.save_plot(plot_confusion(cm, classes, title=title), plot_name)
    acc = per_class_accuracy(cm)
    per_class = [{"class": c, "n": int(cm[i].sum()),
                  "accuracy": round(float(acc[i]), 4) if cm[i].sum() else None}
                 for i, c in enumerate(classes)]
    confused = [{**row, "rate": round(row["rate"], 4)} for row in top_confusions(cm, classes, k)]
    return {"per_class_accuracy": per_class, "top_confusions": confused}


def take_per_class(labels: np.ndarray, classes: list[str], wanted: str | list[str],
                   per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` samples of each wanted class (by name), in order."""
    names = list(wanted)
    out = []
    for name in names:
        if name not in classes:
            raise NeuralabError(f"class {name!r} not in {''.join(classes)}")
        idx = np.flatnonzero(labels == classes.index(name))[:per_class]
        out.extend(idx.tolist())
    return np.asarray(out, dtype=np.int64)


def rounded(metrics: dict[str, Any], digits: int = 6) -> dict[str, Any]:
    """Floats cut to ``digits`` significant digits for metrics.json (small differences such as
    a parameter drift of 1e-7 keep their value); ints, strings and None pass through."""
    return {k: float(f"{float(v):.{digits}g}") if isinstance(v, float | np.floating) else v
            for k, v in metrics.items()}
