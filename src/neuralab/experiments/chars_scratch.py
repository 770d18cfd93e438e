"""Handwritten characters with the NumPy engine: the 16-720 hw5 series (Q3, Q5, Q6).

The hw5 data, NIST36 (``nist36_{train,valid,test}.mat``: 32x32 digits and capitals), is not
obtainable on every machine; the default ``dataset=chars36`` is its stand-in (EMNIST ByClass
digits + uppercase, 32x32, split 70/15/15, see :mod:`neuralab.data.emnist`). ``dataset=nist36``
runs the same code on the genuine files when they are present. Results name the data used.
Pixels are scaled to [0, 1] and flattened row-major to 1,024 inputs (both loaders return upright
images). chars36 has about 6x more training images than NIST36 (62,483 vs 10,800) and uneven
classes (K: 382 ... O: 4,156 images in all).

* ``chars-fc-scratch`` (Q3.1, Q3.3, Q3.4): ``1024 - 64 sigmoid - 36 softmax``, Xavier-uniform
  weights, zero biases, minibatch SGD for ``max_iters=50`` epochs (``run_q3.py``). hw5 sums the
  loss over the batch (``compute_loss_and_acc`` returns the total and the gradient is
  ``probs - y`` without a ``1/N``), so ``learning_rate`` here is per that summed loss: the
  engine's batch-mean loss is trained with ``learning_rate * len(batch)``, the same update.
  Curves of loss (mean per image) and accuracy per epoch for train and validation, first-layer
  weights as 32x32 images at initialisation and after training, the test confusion matrix
  with its most confused pairs, and per-class accuracy.
* ``chars-fc-lr-sweep`` (Q3.2): the same network trained with the chosen learning rate, 10x it
  and 0.1x it; curves for each and the test accuracy of the best (by validation accuracy).
* ``chars-autoencoder-scratch`` (Q5): ``1024-32-32-32-1024``, ReLU x3 then sigmoid, loss the
  total squared error over batch and pixels, SGD with momentum 0.9 (``M = 0.9 M - lr g``),
  ``run_q5.py``'s defaults: 100 epochs, batch 36, lr 3e-5, multiplied by 0.9 every 20 epochs.
  Training-loss curve, 2 validation images of each of 5 classes with their reconstructions, and
  the mean PSNR over the validation set.
* ``chars-pca`` (Q6): 32 principal components from the SVD of the centred training images:
  the projection matrix, its size and rank, reconstructions of the same validation images,
  PSNR, and the parameter counts of PCA and of the autoencoder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuralab.data import is_folder_name, load_options, stratified_subset, validation_split
from neuralab.errors import NeuralabError
from neuralab.experiments.registry import RunResult, Target, experiment
from neuralab.experiments.scratch_common import (
    confusion_report,
    fit_checkpoint,
    rounded,
    save_model,
    take_per_class,
    with_threads,
)
from neuralab.scratch import (
    MLP,
    PCA,
    SGD,
    Autoencoder,
    SoftmaxCrossEntropy,
    SquaredError,
    evaluate,
    fit,
)
from neuralab.scratch.inputs import VectorInputs
from neuralab.scratch.training import every_epochs
from neuralab.viz import plot_curves
from neuralab.viz.common import new_figure
from neuralab.viz.reconstructions import plot_reconstructions, psnr
from neuralab.viz.weights import plot_weights

DATASETS = ("chars36", "nist36")
CHAR_ROWS = VectorInputs(size=32, channels=1)  # a 32x32 character -> 1024 pixels in [0, 1]
SHOW_CLASSES = "AGKQ7"  # the 5 classes whose validation images are reconstructed (2 each)


def load_chars(ctx, dataset: str, train_subset: int | None = None):
    """(dataset, {split: (x [N, 1024] in [0, 1], labels)}) for chars36, nist36 or a folder of
    32x32 gray characters (white on black), whose validation split is cut from train when it
    has none."""
    if dataset not in DATASETS and not is_folder_name(dataset):
        raise NeuralabError(f"unknown dataset {dataset!r}; use chars36, nist36 (the hw5 "
                            ".mat files) or a folder of characters PATH/<split>/<class>/*")
    data = ctx.load_data(dataset, **char_options(dataset))
    splits = dict(data.splits)
    if is_folder_name(dataset) and "val" not in splits:  # hw5 validates on its own split
        splits["train"], splits["val"] = validation_split(data, len(splits["train"].labels),
                                                          "val", user_folder=True)
    missing = [s for s in ("train", "val") if s not in splits]
    if missing:
        raise NeuralabError(f"{dataset} has no {', '.join(missing)} split")
    out = {}
    for name, split in splits.items():
        if name == "train":
            split = stratified_subset(split, train_subset)
        out[name] = (CHAR_ROWS(split.images), split.labels)
    return data, out


def char_options(dataset: str) -> dict:
    """``load`` options: hw5's sets as stored, a folder read as 32x32 gray."""
    return load_options(dataset, native=DATASETS, size=32, mode="L")


def data_note(data) -> str:
    if data.name == "chars36":
        return ("Data: chars36, the EMNIST ByClass digits + capitals (32x32, white on black) "
                "standing in for hw5's NIST36, which is not available here; it has ~6x more "
                "training images and uneven classes.")
    return "Data: NIST36, the hw5 .mat files (dark ink on white)."


# --------------------------------------------------------------------------- Q3 classifier


@dataclass
class CharsFCConfig:
    dataset: str = "chars36"  # chars36 | nist36 | PATH: a folder of characters (32x32 gray)
    hidden_size: int = 64  # sigmoid hidden units
    max_iters: int = 50  # epochs (hw5 run_q3.py)
    batch_size: int = 32
    learning_rate: float = 1e-2  # for hw5's loss summed over the batch
    train_subset: int | None = None  # about N training images, stratified (smoke tests)
    threads: int = 1  # BLAS/torch threads (1: immune to a busy shared CPU; 0: library default)


def train_fc(cfg: CharsFCConfig, splits, n_classes: int, seed: int, lr: float, log,
             desc: str, allow_divergence: bool = False, checkpoint: dict | None = None,
             ) -> dict[str, Any]:
    """Train hw5's one-hidden-layer network; returns the model, its initial first-layer
    weights and the per-epoch history. Divergence raises, or with ``allow_divergence`` (the
    learning-rate sweep) ends the training with ``diverged`` set. ``checkpoint``: ``fit``'s
    checkpoint and resume arguments."""
    x_tr, y_tr = splits["train"]
    x_val, y_val = splits["val"]
    rng = np.random.default_rng(seed)
    model = MLP(x_tr.shape[1], [cfg.hidden_size], n_classes, activation="sigmoid",
                init="xavier", rng=rng)
    w_init = model.linears[0].params["weight"].copy()
    loss_fn = SoftmaxCrossEntropy()
    opt = SGD(model, lr=lr * cfg.batch_size)
    run = fit(model, loss_fn, opt, x_tr, y_tr, batch_size=cfg.batch_size, rng=rng,
              epochs=cfg.max_iters, lr=lr, lr_for_summed_loss=True,
              eval_sets={"val": splits["val"]}, eval_per_epoch=True,
              on_diverge="stop" if allow_divergence else "raise", log=log, log_every=10,
              desc=desc, **(checkpoint or {}))
    return {"model": model, "w_init": w_init, "history": run.history,
            "diverged": run.diverged is not None, "train_time_s": run.train_time_s,
            "loss_fn": loss_fn}


def _weights_figure(w: np.ndarray, title: str):
    return plot_weights(w, (32, 32), ncols=8, title=title, cell=0.75)


@experiment("chars-fc-scratch", topic="scratch",
            handout="16-720 hw5 Q3.1/Q3.3/Q3.4: one-hidden-layer network on NIST36",
            config=CharsFCConfig,
            target=Target("val_accuracy", 0.75, "16-720 hw5 Q3.1: train to about 75% "
                          "validation accuracy"),
            description="hw5 one-hidden-layer network (NumPy) on handwritten characters")
@with_threads
def run_chars_fc(cfg: CharsFCConfig, ctx) -> RunResult:
    """hw5 one-hidden-layer network (NumPy) on handwritten characters."""
    data, splits = load_chars(ctx, cfg.dataset, cfg.train_subset)
    run = train_fc(cfg, splits, len(data.classes), ctx.seed, cfg.learning_rate, ctx.log,
                   "", checkpoint=fit_checkpoint(ctx))
    model, loss_fn = run["model"], run["loss_fn"]
    metrics: dict[str, Any] = {}
    for name, (x, y) in splits.items():
        r = evaluate(model, loss_fn, x, y)
        metrics[f"{name}_loss"], metrics[f"{name}_accuracy"] = r["loss"], r["accuracy"]
    metrics.update(epochs=cfg.max_iters, parameters=model.num_params(),
                   wall_time_s=round(run["train_time_s"], 2))
    title = f"hw5 network on {data.name}"
    ctx.save_plot(plot_curves(run["history"], x="epoch", splits=("train", "val", "test"),
                              title=title,
                              final={k: v for k, v in metrics.items() if k.startswith("test_")}),
                  "curves")
    ctx.save_plot(_weights_figure(run["w_init"], "first-layer weights at initialisation"),
                  "weights_init")
    ctx.save_plot(_weights_figure(model.linears[0].params["weight"],
                                  f"first-layer weights after {cfg.max_iters} epochs"),
                  "weights_trained")
    tables: dict[str, list[dict]] = {}
    eval_split = "test" if "test" in splits else "val"
    x_ev, y_ev = splits[eval_split]
    pred = evaluate(model, loss_fn, x_ev, y_ev)["pred"]
    tables.update(confusion_report(ctx, y_ev, pred, data.classes,
                                   f"{title}: {eval_split} confusion", k=15))
    save_model(ctx, model, CHAR_ROWS, data.classes, cfg.dataset, char_options(cfg.dataset))
    notes = (f"{data_note(data)} hw5 network 1024-{cfg.hidden_size} sigmoid-{len(data.classes)} "
             f"softmax, Xavier init, SGD lr {cfg.learning_rate:g} on the loss summed over "
             f"batches of {cfg.batch_size}, {cfg.max_iters} epochs. Curves: training loss and "
             "accuracy are means over each epoch's minibatches (as hw5 accumulates them), "
             f"validation over the whole split. Confusion matrix and per-class accuracy on the "
             f"{eval_split} split.")
    return RunResult(metrics=rounded(metrics), history=run["history"], tables=tables,
                     notes=notes)


@dataclass
class LRSweepConfig(CharsFCConfig):
    factors: tuple[float, ...] = (1.0, 10.0, 0.1)  # times learning_rate


@experiment("chars-fc-lr-sweep", topic="scratch",
            handout="16-720 hw5 Q3.2: the chosen learning rate, 10x and 0.1x",
            config=LRSweepConfig,
            target=Target("test_accuracy", 0.75, "16-720 hw5 Q3: about 75% accuracy for the "
                          "best network (validation in the handout; test here)"),
            description="hw5 learning-rate sweep (NumPy), three networks")
@with_threads
def run_chars_lr_sweep(cfg: LRSweepConfig, ctx) -> RunResult:
    """hw5 learning-rate sweep (NumPy), three networks."""
    data, splits = load_chars(ctx, cfg.dataset, cfg.train_subset)
    runs, history, rows = [], [], []
    for factor in cfg.factors:
        lr = cfg.learning_rate * factor
        run = train_fc(cfg, splits, len(data.classes), ctx.seed, lr, ctx.log,
                       f"lr {lr:g}", allow_divergence=True,
                       checkpoint=fit_checkpoint(ctx, f"fit_lr_{lr:g}"))
        final = run["history"][-1]
        runs.append((lr, run))
        history.extend(run["history"])
        rows.append({"lr": lr, "factor": factor, "epochs": final["epoch"],
                     "diverged": run["diverged"],
                     "train_accuracy": round(final["train_accuracy"], 4),
                     "val_accuracy": round(final["val_accuracy"], 4),
                     "val_loss": round(final["val_loss"], 4),
                     "train_time_s": round(run["train_time_s"], 1)})
        ctx.save_plot(plot_curves(run["history"], x="epoch", splits=("train", "val"),
                                  title=f"hw5 network on {data.name}, lr {lr:g}"),
                      f"curves_lr_{lr:g}")
    finished = [r for r in runs if not r[1]["diverged"]]
    if not finished:
        raise NeuralabError("every learning rate of the sweep diverged; lower learning_rate")
    best_lr, best = max(finished, key=lambda r: r[1]["history"][-1]["val_accuracy"])
    metrics: dict[str, Any] = {"best_lr": best_lr}
    for lr, run in runs:
        metrics[f"val_accuracy_lr_{lr:g}"] = run["history"][-1]["val_accuracy"]
    for name in ("val", "test"):
        if name in splits:
            r = evaluate(best["model"], best["loss_fn"], *splits[name])
            metrics[f"{name}_accuracy"], metrics[f"{name}_loss"] = r["accuracy"], r["loss"]
    metrics["wall_time_s"] = round(sum(r["train_time_s"] for _, r in runs), 2)
    save_model(ctx, best["model"], CHAR_ROWS, data.classes, cfg.dataset,
               char_options(cfg.dataset))
    fig, axes = new_figure(10.0, 3.8, ncols=2)
    for lr, run in runs:
        h = run["history"]
        for ax, key in zip(axes, ("val_accuracy", "train_loss"), strict=True):
            ax.plot([r["epoch"] for r in h], [r[key] for r in h], label=f"lr {lr:g}")
    for ax, key in zip(axes, ("validation accuracy", "training loss"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"hw5 learning-rate sweep on {data.name}")
    fig.tight_layout()
    ctx.save_plot(fig, "sweep")
    notes = (f"{data_note(data)} Same network and data order for each learning rate "
             f"({', '.join(f'{lr:g}' for lr, _ in runs)}; per hw5's summed loss, batch "
             f"{cfg.batch_size}, {cfg.max_iters} epochs). The best by final validation "
             f"accuracy is lr {best_lr:g}; test accuracy is reported for it only.")
    return RunResult(metrics=rounded(metrics), history=history, tables={"sweep": rows},
                     notes=notes)


# --------------------------------------------------------------------------- Q5 autoencoder


@dataclass
class AutoencoderConfig:
    dataset: str = "chars36"  # chars36 | nist36
    hidden_units: tuple[int, ...] = (32, 32, 32)  # ReLU layer widths; output: 1024 sigmoid
    max_iters: int = 100  # epochs (hw5 run_q5.py)
    batch_size: int = 36
    learning_rate: float = 3e-5  # for the total squared error over batch and pixels
    momentum: float = 0.9
    lr_decay_every: int = 20  # epochs (hw5 lr_rate): learning rate *= lr_decay; 0: never
    lr_decay: float = 0.9  # factor applied every lr_decay_every epochs
    eval_every: int = 5  # epochs between validation losses
    show_classes: str = SHOW_CLASSES  # classes to plot, 2 val images each; empty = the first 5
    train_subset: int | None = None  # about N training images, stratified (smoke tests)
    threads: int = 1  # BLAS/torch threads (1: immune to a busy shared CPU; 0: library default)


def pick_examples(splits, classes: list[str], show: str) -> np.ndarray:
    """Indices into the validation split: the first 2 images of each class in ``show``
    (the first five classes when ``show`` is empty)."""
    _, y_val = splits["val"]
    unknown = [c for c in show if c not in classes]
    if unknown:
        raise NeuralabError(f"show_classes={show!r}: no class {''.join(unknown)!r}; "
                            f"classes are {''.join(classes)}")
    wanted = list(show) or classes[:5]
    return take_per_class(y_val, classes, wanted, 2)


def autoencoder_param_count(n_inputs: int = 1024, hidden=(32, 32, 32)) -> int:
    sizes = [n_inputs, *hidden, n_inputs]
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True)))


@experiment("chars-autoencoder-scratch", topic="scratch",
            handout="16-720 hw5 Q5: fully connected autoencoder (1024-32-32-32-1024)",
            config=AutoencoderConfig,
            target=Target("val_psnr", 19.4, "no handout number; hw5 Q6 compares it with PCA: "
                          "the autoencoder should match 32-component PCA on the same "
                          "validation images (chars-pca: 19.42 dB on chars36)"),
            description="hw5 autoencoder (NumPy) on handwritten characters")
@with_threads
def run_chars_autoencoder(cfg: AutoencoderConfig, ctx) -> RunResult:
    """hw5 autoencoder (NumPy) on handwritten characters."""
    data, splits = load_chars(ctx, cfg.dataset, cfg.train_subset)
    x_tr, _ = splits["train"]
    x_val, _ = splits["val"]
    pick = pick_examples(splits, data.classes, cfg.show_classes)  # a bad name fails before training
    rng = np.random.default_rng(ctx.seed)
    model = Autoencoder(x_tr.shape[1], list(cfg.hidden_units), rng=rng)
    loss_fn = SquaredError(reduction="sum")
    opt = SGD(model, lr=cfg.learning_rate, momentum=cfg.momentum)
    last = cfg.max_iters

    def val_due(step: int, epoch) -> bool:  # hw5 plots the validation loss every few epochs
        return epoch == 1 or epoch == last or epoch % cfg.eval_every == 0

    run = fit(model, loss_fn, opt, x_tr, None, batch_size=cfg.batch_size, rng=rng,
              epochs=cfg.max_iters,
              lr=every_epochs(cfg.learning_rate, cfg.lr_decay, cfg.lr_decay_every),
              eval_sets={"val": (x_val, None)}, eval_per_epoch=True, eval_when=val_due,
              log=ctx.log, log_every=10, **fit_checkpoint(ctx))
    history, train_time = run.history, run.train_time_s
    recon = np.concatenate([model.forward(x_val[i:i + 4096]) for i in range(0, len(x_val),
                                                                            4096)])
    values = psnr(x_val, recon)
    labels = [data.classes[c] for c in splits["val"][1][pick]]
    ctx.save_plot(plot_curves(history, x="epoch", metrics=("loss",), splits=("train", "val"),
                              title=f"hw5 autoencoder on {data.name}: squared error per image"),
                  "loss")
    ctx.save_plot(plot_reconstructions(x_val[pick].reshape(-1, 32, 32),
                                       {"autoencoder": recon[pick].reshape(-1, 32, 32)},
                                       labels, title="validation images and reconstructions"),
                  "reconstructions")
    metrics = {"val_psnr": float(values.mean()), "val_psnr_median": float(np.median(values)),
               "val_loss": float(((recon - x_val) ** 2).sum(axis=1).mean()),
               "train_loss": history[-1]["train_loss"], "epochs": cfg.max_iters,
               "parameters": model.num_params(), "wall_time_s": round(train_time, 2)}
    tables = {"examples": [{"class": lab, "val_index": int(i), "psnr": round(float(values[i]), 3)}
                           for lab, i in zip(labels, pick, strict=True)]}
    notes = (f"{data_note(data)} hw5 run_q5.py settings: {cfg.max_iters} epochs, batch "
             f"{cfg.batch_size}, SGD momentum {cfg.momentum}, lr {cfg.learning_rate:g} on the "
             f"total squared error, x{cfg.lr_decay} every {cfg.lr_decay_every} epochs. "
             f"Training images: {len(x_tr)}. Losses are squared errors summed over the 1,024 "
             "pixels, per image. PSNR with a data range of 1, per validation image, averaged.")
    return RunResult(metrics=rounded(metrics), history=history, tables=tables, notes=notes)


# --------------------------------------------------------------------------- Q6 PCA


@dataclass
class PCAConfig:
    dataset: str = "chars36"  # chars36 | nist36
    n_components: int = 32  # principal components kept
    show_classes: str = SHOW_CLASSES  # classes to plot, 2 val images each; empty = the first 5
    train_subset: int | None = None  # about N training images, stratified (smoke tests)
    threads: int = 1  # BLAS/torch threads (1: immune to a busy shared CPU; 0: library default)


@experiment("chars-pca", topic="scratch",
            handout="16-720 hw5 Q6: PCA with 32 components as the linear baseline",
            config=PCAConfig,
            target=Target("val_psnr", 15.1, "no handout number; own threshold: 32 of 1,024 "
                          "components must at least halve the squared error of the mean-image "
                          "reconstruction (12.1 dB on chars36 validation) = +3 dB"),
            description="hw5 PCA reconstructions (NumPy SVD) on handwritten characters")
@with_threads
def run_chars_pca(cfg: PCAConfig, ctx) -> RunResult:
    """hw5 PCA reconstructions (NumPy SVD) on handwritten characters."""
    data, splits = load_chars(ctx, cfg.dataset, cfg.train_subset)
    x_tr, _ = splits["train"]
    x_val, _ = splits["val"]
    start = time.perf_counter()
    pca = PCA(cfg.n_components).fit(x_tr)
    fit_time = time.perf_counter() - start
    projection = pca.components_.T  # [1024, k]: z = (x - mean) @ projection
    projector = projection @ projection.T  # [1024, 1024]: reconstruction = mean + (x-mean) P
    recon = pca.reconstruct(pca.project(x_val))
    values = psnr(x_val, recon)
    baseline = psnr(x_val, np.broadcast_to(pca.mean_, x_val.shape))
    total_var = float(x_tr.var(axis=0, ddof=1, dtype=np.float64).sum())
    pick = pick_examples(splits, data.classes, cfg.show_classes)
    labels = [data.classes[c] for c in splits["val"][1][pick]]
    ctx.save_plot(plot_reconstructions(x_val[pick].reshape(-1, 32, 32),
                                       {f"PCA {cfg.n_components}": recon[pick].reshape(-1, 32,
                                                                                       32)},
                                       labels, title="validation images and PCA "
                                                     "reconstructions"), "reconstructions")
    ctx.save_plot(plot_weights(pca.components_, (32, 32), ncols=8,
                               title=f"the {cfg.n_components} principal components"),
                  "components")
    pca_params = int(pca.components_.size + pca.mean_.size)
    ae_params = autoencoder_param_count(x_tr.shape[1])
    metrics = {
        "val_psnr": float(values.mean()), "val_psnr_median": float(np.median(values)),
        "val_psnr_clipped": float(psnr(x_val, np.clip(recon, 0, 1)).mean()),
        "val_psnr_mean_image": float(baseline.mean()),
        "explained_variance_ratio": float(pca.explained_variance_.sum() / total_var),
        "projection_rows": int(projection.shape[0]), "projection_cols": int(projection.shape[1]),
        "projection_rank": int(np.linalg.matrix_rank(projection)),
        "projector_rank": int(np.linalg.matrix_rank(projector)),
        "pca_parameters": pca_params, "autoencoder_parameters": ae_params,
        "wall_time_s": round(fit_time, 2),
    }
    tables = {
        "examples": [{"class": lab, "val_index": int(i), "psnr": round(float(values[i]), 3)}
                     for lab, i in zip(labels, pick, strict=True)],
        "parameters": [
            {"model": f"PCA ({cfg.n_components} components)", "parameters": pca_params,
             "what": f"components {projection.shape[1]}x{projection.shape[0]} + mean "
                     f"{projection.shape[0]}"},
            {"model": "autoencoder 1024-32-32-32-1024", "parameters": ae_params,
             "what": "4 weight matrices + 4 bias vectors"}],
    }
    notes = (f"{data_note(data)} SVD of the {len(x_tr)} centred training images; projection "
             f"matrix {projection.shape[0]}x{projection.shape[1]} (rank "
             f"{metrics['projection_rank']}); the reconstruction operator "
             f"P = V_k V_k^T is {projector.shape[0]}x{projector.shape[1]} with rank "
             f"{metrics['projector_rank']}. PSNR (data range 1) of the unclipped "
             f"reconstructions, per validation image, averaged; the mean image alone gives "
             f"{baseline.mean():.2f} dB. PCA stores {pca_params:,} numbers, the autoencoder "
             f"{ae_params:,}.")
    return RunResult(metrics=rounded(metrics), tables=tables, notes=notes)
