"""neuralab.scratch: a small neural-network engine in plain NumPy (no torch).

Modules have ``forward(x)``, ``backward(dout)``, and ``params``/``grads`` dicts; losses
have ``forward(scores, targets) -> float`` and ``backward() -> dscores``. Arrays are
batch-first, images NCHW, and each module keeps the dtype (float32/float64) it was built
with. See :mod:`neuralab.scratch.base` for the protocol.

    >>> import numpy as np
    >>> from neuralab.scratch import MLP, SGD, SoftmaxCrossEntropy, fit, train_step
    >>> model = MLP(3072, [100], 10, activation="elu", rng=0)
    >>> loss_fn, opt = SoftmaxCrossEntropy(), SGD(model, lr=1e-2, momentum=0.9)
    >>> x = np.zeros((200, 3072), np.float32); y = np.zeros(200, int)
    >>> loss = train_step(model, loss_fn, opt, x, y)
    >>> run = fit(model, loss_fn, opt, x, y, batch_size=50, epochs=2, rng=0)
    >>> [row["step"] for row in run.history]
    [8]

:func:`~neuralab.scratch.training.fit` is the one training loop (CS231n's Solver) that every
NumPy experiment uses.
"""

from neuralab.scratch.base import Module, Sequential, make_rng, resolve_dtype
from neuralab.scratch.conv import Conv2d, MaxPool2d, col2im, im2col
from neuralab.scratch.functional import conv2d, log_softmax, one_hot, sigmoid, softmax
from neuralab.scratch.gradient_check import check_all, format_table, gradcheck
from neuralab.scratch.init import get_initializer, he_normal, normal, xavier_uniform, zeros
from neuralab.scratch.layers import ELU, Flatten, Linear, ReLU, Sigmoid, Softmax, Tanh
from neuralab.scratch.losses import (
    BinaryCrossEntropy,
    CrossEntropy,
    Loss,
    SoftmaxCrossEntropy,
    SquaredError,
)
from neuralab.scratch.models import MLP, Autoencoder
from neuralab.scratch.optim import SGD
from neuralab.scratch.pca import PCA
from neuralab.scratch.training import (
    FitResult,
    TrainingDiverged,
    accuracy,
    batch_stream,
    evaluate,
    fit,
    iterate_minibatches,
    lr_at,
    predict,
    predict_scores,
    steps_per_epoch,
    train_step,
)

__all__ = [
    "ELU", "MLP", "PCA", "SGD",
    "Autoencoder", "BinaryCrossEntropy", "Conv2d", "CrossEntropy", "FitResult", "Flatten",
    "Linear", "Loss", "MaxPool2d", "Module", "ReLU", "Sequential", "Sigmoid", "Softmax",
    "SoftmaxCrossEntropy", "SquaredError", "Tanh", "TrainingDiverged",
    "accuracy", "batch_stream", "check_all", "col2im", "conv2d", "evaluate", "fit",
    "format_table", "get_initializer", "gradcheck", "he_normal", "im2col",
    "iterate_minibatches", "log_softmax", "lr_at", "make_rng", "normal", "one_hot", "predict",
    "predict_scores", "resolve_dtype", "sigmoid", "softmax", "steps_per_epoch", "train_step",
    "xavier_uniform", "zeros",
]
