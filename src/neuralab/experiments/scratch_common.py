"""Pieces the NumPy-engine (``neuralab.scratch``) experiments share besides the training loop
(which is :func:`neuralab.scratch.fit`): BLAS threads, the checkpoint of a fit (or the refusal
of ``--resume``), the trained model recorded for :func:`neuralab.load_run`, the end-of-run
confusion report and metric rounding.

No torch here: the scratch experiments train with the NumPy engine only (the HLCV twin imports
torch itself, inside its own run function).
"""

from __future__ import annotations

import contextlib
import functools
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


def refuse_resume(ctx, why: str) -> None:
    """Say in one line why this run cannot continue with ``--resume`` (instead of silently
    starting over)."""
    if getattr(ctx, "resume", False):
        raise NeuralabError(f"--resume cannot continue {ctx.name}: {why}; run it again "
                            "without --resume")


def fit_checkpoint(ctx, name: str = "fit") -> dict:
    """``fit``'s ``checkpoint`` and ``resume`` arguments for this run:
    ``<run>/checkpoint/<name>.npz``, continued when the run is resumed."""
    return {"checkpoint": ctx.checkpoint_dir / f"{name}.npz", "resume": ctx.resume}


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


def save_model(ctx, model, inputs, classes: list[str], dataset: str,
               dataset_options: dict[str, Any] | None = None) -> None:
    """Record a trained NumPy network in the run folder, so that :func:`neuralab.load_run` and
    ``neuralab predict`` can use it: ``checkpoint/model.npz`` (its parameters and how to build
    it), ``checkpoint/inputs.npz`` (the fitted :class:`~neuralab.scratch.inputs.VectorInputs`
    that turns images into its rows) and ``model.json`` (``"engine": "numpy"``; see
    :mod:`neuralab.experiments.record`)."""
    from neuralab.experiments.record import MODEL_FILE, ModelRecord
    from neuralab.io import write_json
    from neuralab.scratch.models import spec_of
    from neuralab.scratch.training import save_weights

    name, args = spec_of(model)
    weights = save_weights(model, ctx.checkpoint_dir / "model.npz", name=name, args=args)
    vectors = inputs.save(ctx.checkpoint_dir / "inputs.npz")
    record = ModelRecord(
        model=name, args=args, classes=list(classes), engine="numpy",
        preprocess={**inputs.to_dict(), "arrays": str(vectors.relative_to(ctx.out_dir))},
        dataset=dataset, dataset_options=dict(dataset_options or {}),
        weights=str(weights.relative_to(ctx.out_dir)))
    write_json(ctx.out_dir / MODEL_FILE, record.to_dict())
