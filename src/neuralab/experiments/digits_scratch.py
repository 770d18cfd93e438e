"""The NumPy engine on scikit-learn's bundled 8x8 digits: the offline demo of ``scratch``.

``digits-mlp-scratch``: ``64 - 64 ReLU - 10``, He initialisation, SGD with momentum 0.9,
learning rate 0.05, weight decay 1e-4, batches of 32, 40 epochs; pixels scaled to [0, 1].
Seconds on any CPU, no download. Target >= 0.95 test accuracy, the same bar as the PyTorch
``digits-mlp-torch``: scikit-learn's "Recognizing hand-written digits" example reaches about
0.97 with an SVC trained on half of the data, and a small MLP trained on 60% should clear 0.95.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neuralab.data import load_options
from neuralab.experiments.registry import RunResult, Target, experiment
from neuralab.experiments.scratch_common import (
    confusion_report,
    fit_checkpoint,
    rounded,
    save_model,
    with_threads,
)
from neuralab.scratch import MLP, SGD, SoftmaxCrossEntropy, evaluate, fit
from neuralab.scratch.inputs import VectorInputs
from neuralab.viz import plot_curves
from neuralab.viz.weights import plot_weights


@dataclass
class DigitsScratchConfig:
    dataset: str = "digits"  # digits, or PATH: an image folder (read as 8x8 gray)
    hidden_units: tuple[int, ...] = (64,)  # hidden layer widths; empty = linear classifier
    activation: str = "relu"  # elu | relu | sigmoid | tanh
    init: str = "he"  # xavier | he | normal (std 1e-4) | zeros
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 32
    epochs: int = 40
    threads: int = 1  # BLAS/torch threads (1: immune to a busy shared CPU; 0: library default)


@experiment("digits-mlp-scratch", topic="demo",
            handout="spine: offline demo of the NumPy engine (scikit-learn digits)",
            config=DigitsScratchConfig, tags=("demo",),
            target=Target("test_accuracy", 0.95, "scikit-learn 'Recognizing hand-written "
                          "digits' example: SVC reaches ~0.97 on a 50% split"),
            description="NumPy MLP on the 8x8 digits")
@with_threads
def run_digits_mlp_scratch(cfg: DigitsScratchConfig, ctx) -> RunResult:
    """NumPy MLP on the 8x8 digits."""
    options = load_options(cfg.dataset, native="digits", size=8, mode="L")
    data = ctx.load_data(cfg.dataset, **options)
    rows = VectorInputs(size=8, channels=1)  # 64 pixels in [0, 1]
    splits = {name: (rows(s.images), s.labels) for name, s in data.splits.items()}
    x_tr, y_tr = splits["train"]
    rng = np.random.default_rng(ctx.seed)
    model = MLP(x_tr.shape[1], list(cfg.hidden_units), len(data.classes),
                activation=cfg.activation, init=cfg.init, rng=rng)
    loss_fn = SoftmaxCrossEntropy()
    opt = SGD(model, lr=cfg.learning_rate, momentum=cfg.momentum,
              weight_decay=cfg.weight_decay)
    run = fit(model, loss_fn, opt, x_tr, y_tr, batch_size=cfg.batch_size, rng=rng,
              epochs=cfg.epochs, eval_sets={k: v for k, v in splits.items() if k == "val"},
              eval_per_epoch=True, log=ctx.log, log_every=10, **fit_checkpoint(ctx))
    history = run.history
    metrics: dict[str, Any] = {}
    for name, (x, y) in splits.items():
        r = evaluate(model, loss_fn, x, y)
        metrics[f"{name}_loss"], metrics[f"{name}_accuracy"] = r["loss"], r["accuracy"]
    metrics.update(epochs=cfg.epochs, parameters=model.num_params(),
                   wall_time_s=round(run.train_time_s, 3))
    ctx.save_plot(plot_curves(history, x="epoch", title="digits MLP (NumPy)",
                              final={k: v for k, v in metrics.items() if k.startswith("test_")}),
                  "curves")
    x_te, y_te = splits["test"]
    tables = confusion_report(ctx, y_te, evaluate(model, loss_fn, x_te, y_te)["pred"],
                              data.classes, "digits MLP (NumPy): test confusion")
    ctx.save_plot(plot_weights(model.linears[0].params["weight"], (8, 8), ncols=16,
                               max_units=64, title="first-layer weights", cell=0.55),
                  "weights")
    save_model(ctx, model, rows, data.classes, cfg.dataset, options)
    notes = (f"{'-'.join(map(str, [64, *cfg.hidden_units, 10]))} {cfg.activation} MLP in the "
             f"NumPy engine, {cfg.init} init, SGD momentum {cfg.momentum}, lr "
             f"{cfg.learning_rate}, weight decay {cfg.weight_decay}, batch {cfg.batch_size}, "
             f"{cfg.epochs} epochs on scikit-learn's bundled digits (60/20/20 split).")
    return RunResult(metrics=rounded(metrics), history=history, tables=tables, notes=notes)
