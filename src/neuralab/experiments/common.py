"""Pieces every PyTorch classification experiment shares: loaders for a split, and the
end-of-run report (test metrics, curves, confusion matrix, per-class accuracy, Grad-CAM)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from neuralab.errors import NeuralabError
from neuralab.experiments.registry import RunResult
from neuralab.train import TensorLoader, Trainer, predict
from neuralab.train.distributed import current
from neuralab.viz import confusion_matrix, plot_confusion, plot_curves, top_confusions
from neuralab.viz.confusion import per_class_accuracy


def split_loader(split, batch_size: int, *, train: bool, seed: int, device: str,
                 transform=None, eval_transform=None, drop_last: bool = False) -> TensorLoader:
    """A :class:`TensorLoader` over a dataset split (uint8 images stay uint8 until batched).

    ``batch_size`` is the global batch: under DDP each of the W ranks draws ``batch_size / W``
    samples of its shard per step (training shards are padded to equal length, evaluation
    shards are not, so all-reduced metrics count every sample exactly once).
    """
    info = current()
    if train and batch_size % info.world_size:
        raise NeuralabError(f"batch_size {batch_size} is not divisible by the "
                            f"{info.world_size} DDP processes")
    per_rank = batch_size // info.world_size if train else batch_size
    return TensorLoader(split.images, split.labels, per_rank, shuffle=train, drop_last=drop_last,
                        seed=seed, device=device, rank=info.rank, world_size=info.world_size,
                        transform=transform if train else (eval_transform or transform))


def classifier_result(ctx, trainer: Trainer, loaders: dict[str, Any], classes: list[str],
                      title: str, notes: str = "") -> RunResult:
    """Evaluate the trained model on every split in ``loaders`` (train/val/test), draw the
    curves and the test confusion matrix, and build the :class:`RunResult`.

    Metrics: ``<split>_loss``/``<split>_accuracy`` for each split, ``steps``, ``epochs``,
    ``stopped_early``, the training wall time (``train_time_s``), the precision the steps
    ran in (``precision``; with ``precision_probe`` when ``auto`` measured it) and
    ``restored_step``, the step of the weights the run ended with when it restored its best.
    """
    model = trainer.module
    metrics: dict[str, Any] = {}
    ctx.log(f"final evaluation of the {', '.join(loaders)} split(s)")
    for split, loader in loaders.items():
        m = trainer.evaluate(loader)
        metrics[f"{split}_loss"], metrics[f"{split}_accuracy"] = m["loss"], m["accuracy"]
    metrics.update(steps=trainer.step, epochs=round(trainer.step / max(trainer.steps_per_epoch
                                                                      or 1, 1), 3),
                   stopped_early=trainer.stopped_early, train_time_s=round(trainer.elapsed_s, 2),
                   precision=trainer.precision, restored_step=trainer.restored_step)
    if trainer.precision_probe:
        metrics["precision_probe"] = trainer.precision_probe
    ctx.log("drawing the learning curves and the confusion matrix")
    ctx.save_plot(plot_curves(trainer.history, final={k: v for k, v in metrics.items()
                                                       if k.startswith("test_")}, title=title,
                              restored=trainer.restored_step),
                  "curves")
    tables: dict[str, list[dict]] = {}
    if "test" in loaders:
        with trainer.autocast():
            pred, true = predict(loaders["test"], model, trainer.device)
        cm = confusion_matrix(true.numpy(), pred.numpy(), len(classes))
        ctx.save_plot(plot_confusion(cm, classes, title=f"{title}: test confusion"), "confusion")
        acc = per_class_accuracy(cm)
        tables["per_class_accuracy"] = [
            {"class": c, "n": int(cm[i].sum()), "accuracy": round(float(acc[i]), 4)}
            for i, c in enumerate(classes)]
        tables["top_confusions"] = top_confusions(cm, classes, k=10)
    tables["final"] = [{"split": s, "loss": round(metrics[f"{s}_loss"], 4),
                        "accuracy": round(metrics[f"{s}_accuracy"], 4)} for s in loaders]
    return RunResult(metrics=metrics, history=trainer.history, tables=tables, notes=notes)


def gradcam_plot(ctx, model: torch.nn.Module, split, classes: list[str], preprocess, n: int,
                 title: str) -> None:
    """Save ``plots/gradcam.png``: Grad-CAM of the predicted class at the model's last
    convolutional stage on ``n`` images of ``split`` (one per class first). ``preprocess``
    maps a uint8 ``[N, H, W, C]`` batch to the model's input. Only the main process draws."""
    from neuralab.viz.inside import gradcam_figure, one_per_class

    if n <= 0 or split is None or not ctx.is_main:
        return
    idx = one_per_class(split.labels, n)
    fig, _, _ = gradcam_figure(model, split.images[idx], preprocess, classes,
                               split.labels[idx], title=title)
    ctx.save_plot(fig, "gradcam")


def count_parameters(model: torch.nn.Module, trainable_only: bool = False) -> int:
    return int(sum(p.numel() for p in model.parameters()
                   if p.requires_grad or not trainable_only))


def class_balance(labels: np.ndarray) -> np.ndarray:
    return np.bincount(labels)


def logger_callbacks(cfg, ctx) -> list:
    """The callbacks of the config's ``logger`` (``csv``: none, history.csv is always written;
    ``tensorboard``: a :class:`~neuralab.train.callbacks.TensorBoardLogger` writing to
    ``RUN_DIR/tensorboard``). Call it before reading data: a missing package fails early."""
    if getattr(cfg, "logger", "csv") != "tensorboard":
        return []
    from neuralab.train.callbacks import TensorBoardLogger

    TensorBoardLogger.check_installed()
    return [TensorBoardLogger(ctx.out_dir / "tensorboard")]
