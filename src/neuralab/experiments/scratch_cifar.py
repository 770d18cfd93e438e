"""CIFAR-10 with the NumPy engine: UvA practical 1's MLP and HLCV exercise 2's two-layer net.

``cifar10-mlp-scratch`` (UvA DL practical 1, ``train_mlp_numpy.py``): the defaults of the
handout's ELU edition (UvA DL 2020, uvadlc/uvadlc_practicals_2020) are the config defaults and
keep the handout's flag names: ``dnn_hidden_units=100`` (ELU), ``learning_rate=1e-3``,
``max_steps=1400``, ``batch_size=200``, ``eval_freq=100``, plain SGD, weights ``N(0, 1e-4^2)``
(``modules.py``: "std = 0.0001"), zero biases, softmax cross-entropy. That edition's text says
"around 0.48 using ELU". The earlier editions (2018 TensorFlow, 2019 PyTorch, both without ELU)
had ``learning_rate=2e-3, max_steps=1500`` and say "around 0.46"; ``--learning_rate 2e-3
--max_steps 1500`` runs those settings with ELU.
Inputs as UvA's ``cifar10_utils.py`` prepares them: float32 pixel values in 0..255 (not scaled
to [0, 1]) minus the per-pixel mean image of the training set, flattened in C, H, W order after
its NCHW transpose; batches are consecutive slices of a fresh permutation per epoch (its
``DataSet.next_batch``). Every ``eval_freq`` steps the curve records the mean training loss
and accuracy of the minibatches since the last evaluation and the loss and accuracy on the whole
test set, as the UvA script does. ``seeds=N`` repeats the run with seeds ``seed .. seed+N-1``
and adds their mean/min/max; the headline ``test_accuracy`` stays the first seed's.

``cifar10-mlp-scratch-tuned``: the same code with better settings, still NumPy only: inputs
standardised per channel and PCA-whitened to 256 features (the first layer becomes 12x cheaper,
which keeps the run to a few minutes on two CPU cores, and whitening speeds up SGD), a
1024-512 ReLU MLP with He initialisation, momentum 0.9, cosine learning-rate decay, weight
decay and random horizontal flips (the mirrored images are whitened too), 20 epochs.

``cifar10-twolayer-scratch`` (HLCV exercise 2, Q3-Q4): ``input - Linear - ReLU - Linear`` with
weights ``std * randn`` (``std=1e-4``), SGD on minibatches of 200, the learning rate multiplied
by ``learning_rate_decay`` after every epoch, L2 regularisation ``reg * (|W1|^2 + |W2|^2)`` (the
optimiser's weight decay ``2 reg`` on the weights only), data as HLCV's ``get_CIFAR10_data``:
pixel values minus the training mean image, 1,000 training images held out for validation.
The loss is the per-class binary cross-entropy (``loss=softmax`` gives the notebook's softmax
cross-entropy). The handout's starting point (``hidden_size=50, num_iters=1000,
learning_rate=1e-4, reg=0.25``) gives "about 29%" validation accuracy; the task is to tune it
past 48%, so the defaults here are tuned values: ``hidden_size=100``, ``learning_rate=1e-3``,
``reg=0.05``, 10 epochs (2,450 steps). The same network in PyTorch, built with the
same initial weights and fed the same minibatches with the same hyper-parameters, is trained
alongside (``twin=true``); both accuracies are reported, with their parameter drift.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from neuralab.data import is_folder_name, load_options, stratified_subset, validation_split
from neuralab.errors import NeuralabError
from neuralab.experiments.registry import RunResult, Target, experiment
from neuralab.experiments.scratch_common import (
    confusion_report,
    fit_checkpoint,
    refuse_resume,
    rounded,
    save_model,
    with_threads,
)
from neuralab.scratch import (
    MLP,
    SGD,
    BinaryCrossEntropy,
    SoftmaxCrossEntropy,
    evaluate,
    fit,
    lr_at,
    steps_per_epoch,
)
from neuralab.scratch.inputs import VectorInputs
from neuralab.viz import plot_curves
from neuralab.viz.common import new_figure
from neuralab.viz.weights import plot_weights

JPEG_NOTE = ("Data: the CIFAR-10 JPEG copy (a lossy re-encoding of the official images, about "
             "30 dB PSNR), not the official python batches; the data's README expects handout "
             "accuracies measured on the genuine data to come out a few points lower on it.")


# --------------------------------------------------------------------------- data


def prepare_inputs(train_images: np.ndarray, others: list[np.ndarray], mode: str,
                   channels_first: bool = True,
                   ) -> tuple[np.ndarray, list[np.ndarray], VectorInputs]:
    """Float32 rows for the training images and the other splits, normalised with statistics
    of the training images only, and the fitted :class:`~neuralab.scratch.inputs.VectorInputs`
    that maps any image to its row.

    ``mean_image`` (UvA ``cifar10_utils``, HLCV ``get_CIFAR10_data``): raw 0..255 values minus
    the per-pixel mean image. ``standardize``: values in [0, 1], minus the per-channel mean,
    divided by the per-channel std (symmetric under horizontal flips).
    """
    if mode not in ("mean_image", "standardize"):
        raise NeuralabError(f"unknown preprocessing {mode!r}; use mean_image or standardize")
    _, size, _, channels = train_images.shape
    blank = VectorInputs(size=size, channels=channels, channels_first=channels_first,
                         scale=1.0 if mode == "mean_image" else 1.0 / 255)
    fitted = (blank.fit_mean_image(train_images) if mode == "mean_image"
              else blank.fit_standardize(train_images))
    return fitted(train_images), [fitted(im) for im in others], fitted


def flip_rows(x: np.ndarray, shape=(3, 32, 32)) -> np.ndarray:
    """Left-right mirror images of CHW-flattened rows (a new array)."""
    return np.ascontiguousarray(x.reshape(len(x), *shape)[..., ::-1]).reshape(len(x), -1)


def flip_half(x: np.ndarray, rng: np.random.Generator, shape=(3, 32, 32)) -> np.ndarray:
    """Mirror a random half of the CHW-flattened rows of ``x`` left-right (in place)."""
    mask = rng.random(len(x)) < 0.5
    if mask.any():
        imgs = x.reshape(len(x), *shape)
        imgs[mask] = imgs[mask][..., ::-1]
    return x


@dataclass
class Whitening:
    """PCA whitening fitted on training rows: ``z = (x - mean) @ projection``, where the
    ``projection`` columns are the top-``k`` eigenvectors of the covariance divided by
    ``sqrt(eigenvalue + eps)`` (so the ``k`` features have about unit variance)."""

    mean: np.ndarray
    projection: np.ndarray
    eigenvalues: np.ndarray
    explained: float

    @classmethod
    def fit(cls, x: np.ndarray, k: int, eps: float, n_fit: int, seed: int = 0) -> Whitening:
        if not 1 <= k <= x.shape[1]:
            raise NeuralabError(f"pca_components must be in 1..{x.shape[1]}, got {k}")
        rows = x
        if n_fit and n_fit < len(x):
            rows = x[np.sort(np.random.default_rng(seed).choice(len(x), n_fit, replace=False))]
        mean = rows.mean(axis=0, dtype=np.float64)
        centred = (rows - mean).astype(np.float32)
        n, d = centred.shape
        if k > min(n, d):
            raise NeuralabError(f"pca_components={k} exceeds min(images, inputs) = {min(n, d)}")
        if n >= d:  # eigenvectors of the d x d covariance (only the top k from LAPACK)
            gram = (centred.T @ centred).astype(np.float64)
        else:  # fewer rows than inputs: the n x n Gram matrix has the same non-zero spectrum
            gram = (centred @ centred.T).astype(np.float64)
        m = gram.shape[0]
        values, vectors = scipy.linalg.eigh(gram, subset_by_index=[m - k, m - 1])
        values, vectors = np.maximum(values[::-1], 0), vectors[:, ::-1]
        if n < d:  # v_i = C^T u_i / |C^T u_i|
            vectors = centred.T.astype(np.float64) @ vectors
            vectors /= np.maximum(np.linalg.norm(vectors, axis=0), 1e-30)
        top = values / max(n - 1, 1)
        projection = (vectors / np.sqrt(top + eps)).astype(np.float32)
        return cls(mean.astype(np.float32), projection, top,
                   float(values.sum() / max(np.trace(gram), 1e-30)))

    def __call__(self, x: np.ndarray, chunk: int = 8192) -> np.ndarray:
        out = np.empty((len(x), self.projection.shape[1]), np.float32)
        for i in range(0, len(x), chunk):
            out[i:i + chunk] = (x[i:i + chunk] - self.mean) @ self.projection
        return out


class Inputs:
    """Model inputs for one run: training rows (and, with flips on whitened features, their
    mirrored twins), test rows, and ``batch(idx, rng)`` that applies the augmentation."""

    num_classes = 10  # outputs of the network: the dataset's class count

    def __init__(self, cfg: MLPScratchConfig, train_images: np.ndarray,
                 test_images: np.ndarray, log) -> None:
        mode = "standardize" if cfg.preprocessing == "pca_whiten" else cfg.preprocessing
        x_tr, (x_te,), self.vectors = prepare_inputs(train_images, [test_images], mode)
        self.flip, self.train_flipped, self.whitening = cfg.flip, None, None
        if cfg.preprocessing == "pca_whiten":
            w = Whitening.fit(x_tr, cfg.pca_components, cfg.whiten_eps, cfg.pca_fit_samples)
            log(f"PCA whitening: {cfg.pca_components} components keep {w.explained:.1%} of the "
                f"variance (fitted on {min(cfg.pca_fit_samples or len(x_tr), len(x_tr))} "
                "training images)")
            if cfg.flip:
                self.train_flipped = w(flip_rows(x_tr))
            x_tr, x_te = w(x_tr), w(x_te)
            self.whitening = w
            self.vectors = self.vectors.with_whitening(w.mean, w.projection)
        self.train, self.test = x_tr, x_te

    def batch(self, xb: np.ndarray, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``fit``'s batch transform: ``xb = train[idx]`` with a random half mirrored."""
        if self.train_flipped is None:
            return flip_half(xb, rng)
        mask = rng.random(len(idx)) < 0.5
        xb[mask] = self.train_flipped[idx[mask]]
        return xb


# --------------------------------------------------------------------------- UvA MLP


@dataclass
class MLPScratchConfig:
    dataset: str = "cifar10"  # cifar10, or PATH: an image folder (read as 32x32 RGB)
    dnn_hidden_units: tuple[int, ...] = (100,)  # comma-separated widths; empty = no hidden layer
    learning_rate: float = 1e-3
    max_steps: int = 1400
    batch_size: int = 200
    eval_freq: int = 100  # steps between evaluations on the test set (curve points)
    activation: str = "elu"  # elu | relu | sigmoid | tanh
    init: str = "normal"  # normal (N(0, init_std^2), UvA) | he | xavier | zeros
    init_std: float = 1e-4  # init=normal only: std of the initial weights
    momentum: float = 0.0
    weight_decay: float = 0.0
    lr_schedule: str = "none"  # none | cosine | step
    warmup_steps: int = 0  # linear ramp up to learning_rate over these first steps (0 = none)
    preprocessing: str = "mean_image"  # mean_image (UvA) | standardize | pca_whiten
    flip: bool = False  # random horizontal flips of half of each batch
    pca_components: int = 256  # pca_whiten: features kept
    whiten_eps: float = 0.1  # pca_whiten: added to the eigenvalues before the square root
    pca_fit_samples: int = 10000  # pca_whiten: training images used to fit it (0 = all)
    seeds: int = 1  # repeat with seeds seed..seed+seeds-1 and report mean/min/max
    train_subset: int | None = None  # about N training images, stratified (tests, quick looks)
    test_subset: int | None = None  # about N test images, stratified
    threads: int = 1  # BLAS/torch threads (1: immune to a busy shared CPU; 0: library default)


def _train_mlp(cfg: MLPScratchConfig, inputs: Inputs, y_tr, y_te, seed: int, log,
               desc: str, checkpoint: dict | None = None) -> dict[str, Any]:
    x_tr, x_te = inputs.train, inputs.test
    rng = np.random.default_rng(seed)
    model = MLP(x_tr.shape[1], list(cfg.dnn_hidden_units), inputs.num_classes,
                activation=cfg.activation,
                init=cfg.init, init_std=cfg.init_std if cfg.init == "normal" else None, rng=rng)
    opt = SGD(model, lr=cfg.learning_rate, momentum=cfg.momentum,
              weight_decay=cfg.weight_decay)
    loss_fn = SoftmaxCrossEntropy()
    run = fit(model, loss_fn, opt, x_tr, y_tr, batch_size=cfg.batch_size, rng=rng,
              steps=cfg.max_steps,
              lr=lambda step, epoch: lr_at(cfg.lr_schedule, cfg.learning_rate, step,
                                           cfg.max_steps, cfg.warmup_steps),
              eval_sets={"test": (x_te, y_te)}, eval_every=cfg.eval_freq, eval_at_start=True,
              batch_transform=inputs.batch if inputs.flip else None, train_mean="batch",
              log=log, desc=desc, **(checkpoint or {}))
    last = run.last
    return {"model": model, "history": run.history, "pred": run.evals["test"]["pred"],
            "test_accuracy": last["test_accuracy"], "test_loss": last["test_loss"],
            "train_loss": last["train_loss"], "train_time_s": run.train_time_s}


def run_mlp_scratch(cfg: MLPScratchConfig, ctx, title: str, notes: str) -> RunResult:
    if cfg.preprocessing not in ("mean_image", "standardize", "pca_whiten"):
        raise NeuralabError(f"unknown preprocessing {cfg.preprocessing!r}; use mean_image, "
                            "standardize or pca_whiten")
    # an unknown schedule name fails here, before the data is read
    lr_at(cfg.lr_schedule, cfg.learning_rate, cfg.warmup_steps, cfg.max_steps)
    options = load_options(cfg.dataset, native="cifar10", size=32, mode="RGB")
    data = ctx.load_data(cfg.dataset, **options)
    train = stratified_subset(data.splits["train"], cfg.train_subset)
    test = stratified_subset(data.splits["test"], cfg.test_subset, setting="test_subset")
    inputs = Inputs(cfg, train.images, test.images, ctx.log)
    inputs.num_classes = len(data.classes)
    x_tr = inputs.train
    y_tr, y_te = train.labels, test.labels
    ctx.log(f"{len(x_tr)} training and {len(y_te)} test images, {x_tr.shape[1]} inputs, "
            f"preprocessing {cfg.preprocessing}")
    runs = []
    for k in range(max(cfg.seeds, 1)):
        seed = ctx.seed + k
        runs.append(_train_mlp(cfg, inputs, y_tr, y_te, seed, ctx.log,
                               desc=f"seed {seed}",
                               checkpoint=fit_checkpoint(ctx, f"fit_seed_{seed}")))
        ctx.log(f"seed {seed}: test accuracy {runs[-1]['test_accuracy']:.4f}")
    for k in range(1, len(runs)):  # only the headline seed's checkpoint stays in the folder
        (ctx.checkpoint_dir / f"fit_seed_{ctx.seed + k}.npz").unlink(missing_ok=True)
    first = runs[0]
    model = first["model"]
    metrics: dict[str, Any] = {
        "test_accuracy": first["test_accuracy"], "test_loss": first["test_loss"],
        "train_loss": first["train_loss"], "steps": cfg.max_steps,
        "epochs": round(cfg.max_steps * cfg.batch_size / len(x_tr), 3),
        "parameters": model.num_params(), "train_time_s": round(first["train_time_s"], 2),
        "seed": ctx.seed,
    }
    tables = confusion_report(ctx, y_te, first["pred"], data.classes,
                              f"{title}: test confusion (seed {ctx.seed})")
    if len(runs) > 1:
        accs = np.array([r["test_accuracy"] for r in runs])
        metrics.update(seeds=len(runs), test_accuracy_mean=float(accs.mean()),
                       test_accuracy_std=float(accs.std(ddof=1)),
                       test_accuracy_min=float(accs.min()), test_accuracy_max=float(accs.max()))
        tables["seeds"] = [{"seed": ctx.seed + k, "test_accuracy": round(r["test_accuracy"], 4),
                            "test_loss": round(r["test_loss"], 4),
                            "train_time_s": round(r["train_time_s"], 1)}
                           for k, r in enumerate(runs)]
        notes += (f" Over {len(runs)} seeds ({ctx.seed}..{ctx.seed + len(runs) - 1}) the test "
                  f"accuracy was {accs.mean():.4f} on average (min {accs.min():.4f}, max "
                  f"{accs.max():.4f}); the headline value is seed {ctx.seed}'s.")
    metrics["wall_time_s"] = round(sum(r["train_time_s"] for r in runs), 2)
    ctx.save_plot(plot_curves(first["history"], x="step", splits=("train", "test"),
                              title=f"{title} (seed {ctx.seed})"), "curves")
    if len(runs) > 1:
        fig, ax = new_figure(6.0, 3.8)
        for k, r in enumerate(runs):
            h = r["history"]
            ax.plot([row["step"] for row in h], [row["test_accuracy"] for row in h],
                    label=f"seed {ctx.seed + k}: {r['test_accuracy']:.3f}")
        ax.set_xlabel("step")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"{title}: test accuracy per seed")
        fig.tight_layout()
        ctx.save_plot(fig, "seeds")
    first_linear = model.linears[0].params["weight"]
    if inputs.whitening is not None:  # back to pixel space: the filter seen by an image
        first_linear = first_linear @ inputs.whitening.projection.T
        metrics["pca_explained_variance"] = inputs.whitening.explained
    ctx.save_plot(plot_weights(first_linear, (3, 32, 32), channels_first=True, ncols=10,
                               max_units=50, title=f"{title}: first-layer weights"),
                  "weights")
    save_model(ctx, model, inputs.vectors, data.classes, cfg.dataset, options)
    return RunResult(metrics=rounded(metrics), history=first["history"], tables=tables,
                     notes=notes)


UVA_SOURCE = ("UvA DL 2020 practical 1, Q1.2 (the ELU edition): 'Using the default parameters "
              "provided in this file you should get an accuracy of around 0.48 using ELU "
              "activation function'; issue 3")


@experiment("cifar10-mlp-scratch", topic="scratch",
            handout="UvA DL practical 1 §1: MLP in NumPy (train_mlp_numpy.py defaults)",
            config=MLPScratchConfig, target=Target("test_accuracy", 0.48, UVA_SOURCE),
            description="UvA NumPy MLP on CIFAR-10 with the handout's defaults")
@with_threads
def run_cifar10_mlp_scratch(cfg: MLPScratchConfig, ctx) -> RunResult:
    """UvA NumPy MLP on CIFAR-10 with the handout's defaults."""
    hidden = "x".join(map(str, cfg.dnn_hidden_units)) or "no hidden layer"
    weights = f"N(0, {cfg.init_std:g}^2) weights" if cfg.init == "normal" else f"{cfg.init} init"
    notes = (f"{JPEG_NOTE} Settings as UvA's train_mlp_numpy.py/modules.py/cifar10_utils.py "
             f"(2020, the ELU edition, unless changed): {hidden} {cfg.activation.upper()}, "
             f"{weights}, raw pixel values minus the training mean image, "
             f"SGD lr {cfg.learning_rate:g}, {cfg.max_steps:,} steps of {cfg.batch_size}. "
             "Training loss/accuracy in the curves are means "
             "over the minibatches since the previous evaluation; test values use all 10,000 "
             "test images. What the JPEG copy costs this recipe is estimated by "
             "benchmarks/jpeg_cost.py (results/benchmarks/jpeg_cost.json), which compresses the "
             "copy once more about as strongly as the first time and retrains on it.")
    return run_mlp_scratch(cfg, ctx, "UvA MLP (NumPy)", notes)


TUNED = dict(dnn_hidden_units=(1024, 512), activation="relu", init="he", learning_rate=0.02,
             momentum=0.9, weight_decay=2e-3, lr_schedule="cosine", warmup_steps=200,
             preprocessing="pca_whiten", pca_components=256, whiten_eps=1.0,
             pca_fit_samples=5000, flip=True, batch_size=128, max_steps=7800, eval_freq=390)


@experiment("cifar10-mlp-scratch-tuned", topic="scratch",
            handout="UvA DL practical 1 §1: tuned NumPy MLP", config=MLPScratchConfig,
            target=Target("test_accuracy", 0.55, "issue 3: tuned NumPy MLP aims at >= 0.55"),
            defaults=TUNED, description="Tuned NumPy MLP on CIFAR-10")
@with_threads
def run_cifar10_mlp_scratch_tuned(cfg: MLPScratchConfig, ctx) -> RunResult:
    """Tuned NumPy MLP on CIFAR-10."""
    notes = (f"{JPEG_NOTE} NumPy only: {'-'.join(map(str, cfg.dnn_hidden_units))} "
             f"{cfg.activation.upper()} MLP, {cfg.init} init, inputs {cfg.preprocessing}"
             + (f" (per-channel standardisation, then PCA whitening to {cfg.pca_components} "
                f"features with eps {cfg.whiten_eps}, fitted on {cfg.pca_fit_samples} training "
                "images; first-layer weights are drawn mapped back to pixels)"
                if cfg.preprocessing == "pca_whiten" else "")
             + f", SGD momentum {cfg.momentum}, lr {cfg.learning_rate} with {cfg.lr_schedule} "
             f"decay after {cfg.warmup_steps} warm-up steps, weight decay {cfg.weight_decay}, "
             f"{'random horizontal flips, ' if cfg.flip else ''}{cfg.max_steps} steps of "
             f"{cfg.batch_size}.")
    return run_mlp_scratch(cfg, ctx, "tuned MLP (NumPy)", notes)


# --------------------------------------------------------------------------- HLCV 2-layer


@dataclass
class TwoLayerConfig:
    dataset: str = "cifar10"  # cifar10, or PATH: an image folder (read as 32x32 RGB)
    hidden_size: int = 100  # ReLU hidden units
    learning_rate: float = 1e-3
    learning_rate_decay: float = 0.95  # per epoch
    reg: float = 0.05  # loss + reg * (|W1|^2 + |W2|^2)
    num_iters: int = 2450  # 10 epochs of 245 minibatches
    batch_size: int = 200
    std: float = 1e-4  # initial weights std * randn
    loss: str = "bce"  # bce (per-class binary cross-entropy) | softmax
    num_validation: int = 1000  # training images held out for validation (stratified, seed 0)
    twin: bool = True  # train the PyTorch twin alongside
    train_subset: int | None = None  # about N training images, stratified (smoke tests)
    test_subset: int | None = None  # about N test images, stratified
    threads: int = 1  # BLAS/torch threads (1: immune to a busy shared CPU; 0: library default)


class _TorchTwin:
    """The same two-layer network in PyTorch, initialised with the NumPy model's weights."""

    def __init__(self, model: MLP, cfg: TwoLayerConfig):
        import torch

        self.torch = torch
        fc1, fc2 = model.linears
        net = torch.nn.Sequential(torch.nn.Linear(fc1.in_features, fc1.out_features),
                                  torch.nn.ReLU(),
                                  torch.nn.Linear(fc2.in_features, fc2.out_features))
        with torch.no_grad():
            for tl, nl in ((net[0], fc1), (net[2], fc2)):
                tl.weight.copy_(torch.from_numpy(nl.params["weight"]))
                tl.bias.copy_(torch.from_numpy(nl.params["bias"]))
        self.net, self.loss_kind = net, cfg.loss
        self.opt = torch.optim.SGD([
            {"params": [net[0].weight, net[2].weight], "weight_decay": 2 * cfg.reg},
            {"params": [net[0].bias, net[2].bias], "weight_decay": 0.0}],
            lr=cfg.learning_rate)
        self.pairs = [(net[0].weight, fc1.params["weight"]), (net[0].bias, fc1.params["bias"]),
                      (net[2].weight, fc2.params["weight"]), (net[2].bias, fc2.params["bias"])]
        self.time_s, self.first_loss_diff = 0.0, 0.0
        self.loss_sum, self.loss_count = 0.0, 0

    def loss(self, scores, y):
        f = self.torch.nn.functional
        if self.loss_kind == "bce":
            target = f.one_hot(y, scores.shape[1]).to(scores.dtype)
            return f.binary_cross_entropy_with_logits(scores, target, reduction="sum") / len(y)
        return f.cross_entropy(scores, y)

    def on_step(self, *, step: int, x: np.ndarray, y: np.ndarray, loss: float, lr: float,
                **_) -> None:
        """``fit``'s on-step hook: one twin step on the NumPy step's batch and learning rate;
        keeps the twin's losses since the last row, its time, and the largest gap between the
        two losses over the first 10 steps."""
        t0 = time.perf_counter()
        tloss = self.step(x, y, lr)
        self.time_s += time.perf_counter() - t0
        self.loss_sum += tloss
        self.loss_count += 1
        if step <= 10:
            self.first_loss_diff = max(self.first_loss_diff, abs(tloss - loss))

    def on_eval(self, row: dict[str, Any], x_val: np.ndarray, y_val: np.ndarray,
                ) -> dict[str, Any]:
        """``fit``'s on-eval hook: the twin's columns of a history row."""
        t = self.evaluate(x_val, y_val)
        mean = self.loss_sum / self.loss_count if self.loss_count else None
        self.loss_sum, self.loss_count = 0.0, 0
        return {"twin_train_loss": mean, "twin_val_loss": t["loss"],
                "twin_val_accuracy": t["accuracy"], "twin_param_rel_diff": self.max_rel_diff()}

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> float:
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.zero_grad()
        loss = self.loss(self.net(self.torch.from_numpy(x)), self.torch.from_numpy(y))
        loss.backward()
        self.opt.step()
        return float(loss.item())

    def evaluate(self, x: np.ndarray, y: np.ndarray, chunk: int = 2048) -> dict[str, Any]:
        total, preds = 0.0, []
        with self.torch.no_grad():
            for i in range(0, len(x), chunk):
                scores = self.net(self.torch.from_numpy(x[i:i + chunk]))
                yb = self.torch.from_numpy(y[i:i + chunk])
                total += float(self.loss(scores, yb)) * len(yb)
                preds.append(scores.argmax(1).numpy())
        pred = np.concatenate(preds)
        return {"loss": total / len(x), "accuracy": float(np.mean(pred == y)), "pred": pred}

    def max_rel_diff(self) -> float:
        """max |theta_torch - theta_numpy| / max |theta_numpy| over all parameters."""
        diff = max(float(np.abs(t.detach().numpy() - p).max()) for t, p in self.pairs)
        scale = max(float(np.abs(p).max()) for _, p in self.pairs)
        return diff / max(scale, 1e-30)


def _hlcv_splits(ctx, cfg: TwoLayerConfig):
    options = load_options(cfg.dataset, native="cifar10", size=32, mode="RGB")
    data = ctx.load_data(cfg.dataset, **options)
    train, val = validation_split(data, cfg.num_validation, "num_validation",
                                  user_folder=is_folder_name(cfg.dataset))
    return (options, data, stratified_subset(train, cfg.train_subset), val,
            stratified_subset(data.splits["test"], cfg.test_subset, setting="test_subset"))


@experiment("cifar10-twolayer-scratch", topic="scratch",
            handout="HLCV exercise 2 Q3-Q4: two-layer net in NumPy and in PyTorch",
            config=TwoLayerConfig,
            target=Target("test_accuracy", 0.48, "HLCV exercise 2 Q3: tune to 'greater than "
                          "48%' validation accuracy; 'you should get more than 48% accuracy on "
                          "the test set'"),
            description="HLCV two-layer net (NumPy) with a PyTorch twin")
@with_threads
def run_cifar10_twolayer_scratch(cfg: TwoLayerConfig, ctx) -> RunResult:
    """HLCV two-layer net (NumPy) with a PyTorch twin."""
    if cfg.loss not in ("bce", "softmax"):
        raise NeuralabError(f"unknown loss {cfg.loss!r}; use bce or softmax")
    if cfg.twin:
        refuse_resume(ctx, "its PyTorch twin (twin=true) is not checkpointed")
    options, data, train, val, test = _hlcv_splits(ctx, cfg)
    x_tr, (x_val, x_te), vectors = prepare_inputs(train.images, [val.images, test.images],
                                                  "mean_image", channels_first=False)
    y_tr, y_val, y_te = train.labels, val.labels, test.labels
    rng = np.random.default_rng(ctx.seed)
    model = MLP(x_tr.shape[1], [cfg.hidden_size], len(data.classes), activation="relu",
                init="normal",
                init_std=cfg.std, rng=rng)
    loss_fn = BinaryCrossEntropy() if cfg.loss == "bce" else SoftmaxCrossEntropy()
    opt = SGD(model, lr=cfg.learning_rate, weight_decay=2 * cfg.reg)
    twin = _TorchTwin(model, cfg) if cfg.twin else None
    per_epoch = steps_per_epoch(len(x_tr), cfg.batch_size)
    run = fit(model, loss_fn, opt, x_tr, y_tr, batch_size=cfg.batch_size, rng=rng,
              steps=cfg.num_iters,
              lr=lambda step, epoch: cfg.learning_rate * cfg.learning_rate_decay ** epoch,
              eval_sets={"val": (x_val, y_val)}, eval_per_epoch=True, eval_at_start=True,
              on_step=twin.on_step if twin else None,
              on_eval=(lambda row: twin.on_eval(row, x_val, y_val)) if twin else None,
              train_mean="batch", log=ctx.log,
              **({} if twin else fit_checkpoint(ctx)))
    history = run.history
    np_time = run.step_time_s
    torch_time = twin.time_s if twin else 0.0
    first_loss_diff = twin.first_loss_diff if twin else 0.0
    te = evaluate(model, loss_fn, x_te, y_te)
    tr = evaluate(model, loss_fn, x_tr, y_tr)
    last = history[-1]
    metrics: dict[str, Any] = {
        "test_accuracy": te["accuracy"], "test_loss": te["loss"],
        "val_accuracy": last["val_accuracy"], "val_loss": last["val_loss"],
        "train_accuracy": tr["accuracy"], "train_loss": tr["loss"],
        "steps": cfg.num_iters, "epochs": round(cfg.num_iters / per_epoch, 3),
        "parameters": model.num_params(), "numpy_train_time_s": round(np_time, 2),
        "wall_time_s": round(np_time + torch_time, 2),
    }
    notes = (f"{JPEG_NOTE} {cfg.loss.upper()} loss, hidden {cfg.hidden_size}, lr "
             f"{cfg.learning_rate} x {cfg.learning_rate_decay}/epoch, reg {cfg.reg}, "
             f"{cfg.num_iters} steps of {cfg.batch_size}. Validation: {len(y_val)} training "
             f"images held out (stratified, seed 0); test: {len(y_te)} test images.")
    if twin is not None:
        tt = twin.evaluate(x_te, y_te)
        metrics.update(
            twin_test_accuracy=tt["accuracy"], twin_test_loss=tt["loss"],
            twin_val_accuracy=last["twin_val_accuracy"],
            twin_accuracy_gap=abs(tt["accuracy"] - te["accuracy"]),
            twin_prediction_agreement=float(np.mean(tt["pred"] == te["pred"])),
            twin_first10_loss_max_diff=first_loss_diff,
            twin_param_rel_diff=last["twin_param_rel_diff"],
            torch_train_time_s=round(torch_time, 2))
        drift = [(row["step"], row["twin_param_rel_diff"]) for row in history[1:]]
        notes += (f" PyTorch twin (same initial weights, minibatches and hyper-parameters, "
                  f"float32): test accuracy {tt['accuracy']:.4f} vs NumPy {te['accuracy']:.4f}; "
                  f"the two agree on {metrics['twin_prediction_agreement']:.1%} of the test "
                  f"predictions. Their first 10 losses differ by at most "
                  f"{first_loss_diff:.1e}; float32 rounding differences then grow (max relative "
                  f"parameter difference {drift[0][1]:.1e} after {drift[0][0]} steps, "
                  f"{drift[-1][1]:.1e} after {drift[-1][0]}), while the test accuracies stay "
                  f"{metrics['twin_accuracy_gap']:.4f} apart.")
        fig, ax = new_figure(5.5, 3.5)
        ax.semilogy([d[0] for d in drift], [max(d[1], 1e-12) for d in drift], marker=".")
        ax.set_xlabel("step")
        ax.set_ylabel("max |torch - numpy| / max |numpy|")
        ax.set_title("parameter drift of the PyTorch twin (float32)")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        ctx.save_plot(fig, "twin_drift")
    tables = confusion_report(ctx, y_te, te["pred"], data.classes,
                              "two-layer net (NumPy): test confusion")
    tables["final"] = [
        {"framework": "numpy", "val_accuracy": round(last["val_accuracy"], 4),
         "test_accuracy": round(te["accuracy"], 4), "test_loss": round(te["loss"], 4)}]
    if twin is not None:
        tables["final"].append(
            {"framework": "torch", "val_accuracy": round(last["twin_val_accuracy"], 4),
             "test_accuracy": round(metrics["twin_test_accuracy"], 4),
             "test_loss": round(metrics["twin_test_loss"], 4)})
    fig = plot_curves(history, x="step", splits=("train", "val", "twin_train", "twin_val"),
                      title="two-layer net: NumPy and PyTorch twin (twin_*)")
    ctx.save_plot(fig, "curves")
    ctx.save_plot(plot_weights(model.linears[0].params["weight"], (32, 32, 3), ncols=10,
                               max_units=50, title="two-layer net: first-layer weights"),
                  "weights")
    save_model(ctx, model, vectors, data.classes, cfg.dataset, options)
    return RunResult(metrics=rounded(metrics), history=history, tables=tables, notes=notes)
