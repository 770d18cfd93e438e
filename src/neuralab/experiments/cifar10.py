"""PyTorch on CIFAR-10: the handouts' MLP and CNNs with their published accuracies.

One recipe (:class:`CifarConfig`, :func:`train_cifar`) serves every model; each registered
experiment is that recipe with the handout's settings as defaults:

* UvA DL practical 1 (MLP and ConvNet in PyTorch): Adam lr 1e-4, batch 32, 5,000 steps,
  evaluation every 500 steps (``train_convnet_pytorch.py`` defaults).
* VISUM practical §1-2: the same ConvNet (Table 1) trained with Adam at its default lr.
* TDT4265 assignment 3: SGD lr 5e-2, batch 64, 10 epochs, early stopping after 4 evaluations
  without a better validation loss, 10% of the training images held out for validation,
  normalisation with mean 0.5 / std 0.25.

The validation split is the same for every seed (stratified, seed 0) so runs are comparable.

Your own data: ``--set dataset=PATH`` trains any of these recipes on an image folder
(``PATH/train/<class>/*`` and ``PATH/test/<class>/*``, or ``train/`` alone: then a stratified
validation and test split is made). Its images are converted to RGB and resized to 32x32 (the
recipes' input), and the model gets one output per class folder.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from neuralab.errors import NeuralabError
from neuralab.experiments.common import (
    classifier_result,
    count_parameters,
    gradcam_plot,
    logger_callbacks,
    split_loader,
)
from neuralab.experiments.registry import RunResult, Target, register_recipe
from neuralab.train import (
    Trainer,
    TrainSettings,
    check_names,
    image_transform,
    make_optimizer,
    make_scheduler,
)

INPUT_SIZE = 32  # every recipe's models take 32x32 RGB images
NORMALIZATIONS = ("cifar10", "tdt4265")  # the recipes' choices among the data layer's


@dataclass
class CifarConfig:
    model: str = "simple_cnn"  # mlp | simple_cnn | vgg | preact_vgg13 | cnn_a | cnn_b | cnn_best
    dataset: str = "cifar10"  # cifar10, or PATH: an image folder PATH/<split>/<class>/*
    optimizer: str = "sgd"  # sgd | nesterov | adam | adamw
    learning_rate: float = 5e-2
    momentum: float = 0.0  # sgd and nesterov only
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int | None = 10  # None = max_steps alone ends training
    max_steps: int | None = None  # cap on training steps; None = no cap
    eval_every: int | None = None  # steps; None = every epoch
    patience: int | None = None  # early stopping, in evaluations
    schedule: str = "none"  # none | onecycle | cosine
    label_smoothing: float = 0.0  # cross-entropy label smoothing (0 = off)
    augment: bool = False  # random crop (4 px reflect padding) + horizontal flip
    normalization: str = "cifar10"  # cifar10 (dataset mean/std) | tdt4265 (0.5/0.25)
    val_size: int = 5000  # training images held out for validation (seed 0 split); 0 = none
    train_subset: int | None = None  # about N training images, stratified (smoke tests)
    test_subset: int | None = None  # about N test (and N validation) images, stratified
    channels_last: bool = True  # NHWC memory layout for convnets (ignored for mlp)
    hidden_units: tuple[int, ...] = (100,)  # mlp only: hidden layer widths
    activation: str = "elu"  # mlp only: elu | relu | leaky_relu | gelu | tanh | sigmoid
    restore_best: bool = False  # end with the weights of the lowest validation loss
    track_test: bool = True  # evaluate the test split at every evaluation (record only)
    sync_batchnorm: bool = False  # under DDP on GPUs: BatchNorm statistics over all ranks
    compile: bool = False  # torch.compile the model (worth it on CUDA)
    gradcam_images: int = 8  # convnets: Grad-CAM on this many test images (0: none)
    precision: str = "fp32"  # fp32 | bf16 | auto (CPU: bf16 where supported and faster)
    logger: str = "csv"  # csv (history.csv) | tensorboard (also RUN_DIR/tensorboard)


def model_args(cfg: CifarConfig, num_classes: int = 10) -> dict:
    """The keyword arguments of ``build_model(cfg.model, ...)`` for this recipe."""
    if cfg.model == "mlp":
        return {"n_inputs": 3 * INPUT_SIZE * INPUT_SIZE, "n_hidden": list(cfg.hidden_units),
                "num_classes": num_classes, "activation": cfg.activation}
    return {"num_classes": num_classes}


def _build_model(cfg: CifarConfig, num_classes: int = 10) -> torch.nn.Module:
    from neuralab.models import build_model

    return build_model(cfg.model, **model_args(cfg, num_classes))


def _load_options(cfg: CifarConfig) -> dict:
    """``data.load`` options: a user's folder is read as 32x32 RGB."""
    from neuralab.data import load_options

    return load_options(getattr(cfg, "dataset", "cifar10"), native="cifar10", size=INPUT_SIZE,
                        mode="RGB")


def cifar_splits(ctx, cfg: CifarConfig):
    """(train, val, test, classes) with a fixed stratified validation split (seed 0); an image
    folder's own validation split is used when it has one."""
    from neuralab.data import is_folder_name, stratified_subset, validation_split

    dataset = getattr(cfg, "dataset", "cifar10")
    data = ctx.load_data(dataset, **_load_options(cfg))
    for split in ("train", "test"):
        if split not in data.splits:
            raise NeuralabError(f"dataset {dataset} has no {split} split")
    train, val, test = data.splits["train"], None, data.splits["test"]
    if "val" in data.splits or cfg.val_size > 0:  # a folder: at most a tenth held out
        train, val = validation_split(data, cfg.val_size, "val_size",
                                      user_folder=is_folder_name(dataset))
    if val is not None:
        val = stratified_subset(val, cfg.test_subset, setting="test_subset")
    return (stratified_subset(train, cfg.train_subset), val,
            stratified_subset(test, cfg.test_subset, setting="test_subset"), data.classes)


def normalization(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel ``(mean, std)`` of a CIFAR recipe, from the data layer: ``cifar10`` (the
    dataset's statistics) or ``tdt4265`` (0.5 / 0.25, the TDT4265 handout's); any other name
    is a one-line error. A user's folder is normalised with the same statistics."""
    from neuralab.data import info

    if name not in NORMALIZATIONS:
        raise NeuralabError(f"unknown normalization {name!r}; use {' or '.join(NORMALIZATIONS)}")
    return info("cifar10").normalization(name)


def describe(cfg: CifarConfig, data_dir=None):
    """The :class:`~neuralab.experiments.record.ModelRecord` of a run with ``cfg``."""
    from neuralab.data import Preprocess, info
    from neuralab.experiments.record import ModelRecord

    facts = info(cfg.dataset, data_dir=data_dir, **_load_options(cfg))
    mean, std = normalization(cfg.normalization)
    return ModelRecord(model=cfg.model, args=model_args(cfg, facts.num_classes),
                       classes=list(facts.classes), dataset=cfg.dataset,
                       dataset_options=_load_options(cfg),
                       preprocess=Preprocess(mean, std, size=INPUT_SIZE, channels=3).to_dict())


def train_cifar(cfg: CifarConfig, ctx, title: str) -> RunResult:
    mean, std = normalization(cfg.normalization)
    check_names(optimizer=cfg.optimizer, schedule=cfg.schedule)
    loggers = logger_callbacks(cfg, ctx)  # a missing tensorboard fails before the data is read
    torch.manual_seed(ctx.seed)
    model = _build_model(cfg)  # an unknown model fails here, before the data is read
    train, val, test, classes = cifar_splits(ctx, cfg)
    if len(classes) != 10:  # a user's folder: one output per class (same seed, same init)
        torch.manual_seed(ctx.seed)
        model = _build_model(cfg, len(classes))
    cl = cfg.channels_last and cfg.model != "mlp"
    eval_tf = image_transform(mean, std, channels_last=cl)
    train_tf = image_transform(mean, std, crop_padding=4 if cfg.augment else 0,
                               flip=cfg.augment, channels_last=cl)
    loaders = {"train": split_loader(train, 500, train=False, seed=ctx.seed, device=ctx.device,
                                     transform=eval_tf)}
    if val is not None:
        loaders["val"] = split_loader(val, 500, train=False, seed=ctx.seed, device=ctx.device,
                                      transform=eval_tf)
    loaders["test"] = split_loader(test, 500, train=False, seed=ctx.seed, device=ctx.device,
                                   transform=eval_tf)
    train_loader = split_loader(train, cfg.batch_size, train=True, seed=ctx.seed,
                                device=ctx.device, transform=train_tf)
    if cl:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.learning_rate, cfg.momentum,
                         cfg.weight_decay)
    steps_per_epoch = len(train_loader)
    total = min(cfg.epochs * steps_per_epoch if cfg.epochs else 10**12,
                cfg.max_steps or 10**12)
    settings = TrainSettings(max_epochs=cfg.epochs, max_steps=cfg.max_steps,
                             eval_every=cfg.eval_every, patience=cfg.patience,
                             restore_best=cfg.restore_best, sync_batchnorm=cfg.sync_batchnorm,
                             compile=cfg.compile, precision=cfg.precision)
    trainer = Trainer(model, opt, train_loader, val_loader=loaders.get("val"),
                      loss_fn=lambda out, y: F.cross_entropy(out, y,
                                                             label_smoothing=cfg.label_smoothing),
                      scheduler=make_scheduler(cfg.schedule, opt, cfg.learning_rate, total),
                      settings=settings,
                      device=ctx.device, checkpoint_dir=ctx.checkpoint_dir, log=ctx.log,
                      extra_eval={"test": loaders["test"]} if cfg.track_test else None,
                      callbacks=loggers)
    trainer.fit(resume=ctx.resume)
    result = classifier_result(ctx, trainer, loaders, classes, title)
    result.metrics["parameters"] = count_parameters(model)
    result.metrics["wall_time_s"] = round(trainer.elapsed_s, 2)
    result.metrics.update(time_to_accuracy(trainer.history, TIME_TO))
    if cfg.model != "mlp":
        gradcam_plot(ctx, trainer.module, test, classes, lambda x: eval_tf(x, None),
                     cfg.gradcam_images, f"{title}: Grad-CAM of the predicted class")
    return result


TIME_TO = (0.75, 0.80, 0.90)


def time_to_accuracy(history: list[dict], levels=TIME_TO) -> dict[str, float | None]:
    """Training wall time (s) at the first evaluation whose test accuracy reached each level
    (None if never), e.g. ``{"time_to_0.80_s": 212.4}``: the speed record's figure."""
    out: dict[str, float | None] = {}
    for level in levels:
        hit = next((r for r in history if (r.get("test_accuracy") or 0) >= level), None)
        out[f"time_to_{level:.2f}_s"] = None if hit is None else hit["time_s"]
    return out


def _register(name: str, handout: str, target: Target, title: str, **defaults) -> None:
    register_recipe(name, train_cifar, topic="cifar10-torch", handout=handout,
                    config=CifarConfig, target=target, title=title, describe=describe,
                    **defaults)


UVA = dict(optimizer="adam", learning_rate=1e-4, batch_size=32, epochs=None, max_steps=5000,
           eval_every=500)
#: the convnet recipes train in bf16 where the CPU has it and a probe of the first batch
#: finds it faster (bf16 over fp32 per training step: 1.8-3.0x on a Xeon with AMX,
#: results/benchmarks/throughput.json; 1.5-2.0x on Zen 4, throughput_zen4.json;
#: precision_accuracy.json: the same accuracy within the seeds' spread); the MLPs keep fp32
#: (thin margins, not measured)
CONVNET = dict(precision="auto")

_register("cifar10-mlp-torch", "UvA DL practical 1 §2 / VISUM §1: MLP in PyTorch",
          Target("test_accuracy", 0.53, "VISUM practical §1: MLP in PyTorch reaches >= 53%"),
          "MLP on CIFAR-10 (PyTorch, UvA interface)", model="mlp", optimizer="adam",
          # the UvA flags' SGD lr 2e-3 / 1,500 steps only reaches ~0.39 in PyTorch on
          # standardised inputs (measured); VISUM's >= 0.53 is for the tuned PyTorch MLP:
          # Adam, two hidden layers, more steps
          learning_rate=1e-3, weight_decay=1e-4, batch_size=200, epochs=None, max_steps=5000,
          eval_every=500, hidden_units=(512, 256), val_size=5000, channels_last=False)
_register("cifar10-mlp-torch-tuned", "UvA DL practical 1 §2: tuned MLP",
          Target("test_accuracy", 0.60, "issue: aim >= 0.60 for the tuned MLP"),
          "MLP on CIFAR-10 (PyTorch, tuned)", model="mlp", optimizer="adam", learning_rate=1e-3,
          weight_decay=1e-4, batch_size=256, epochs=30, hidden_units=(1024, 512, 256),
          activation="elu", augment=True, schedule="onecycle", channels_last=False)
_register("cifar10-vgg", "VISUM practical §2, Table 1 ConvNet (= UvA practical 1 §4)",
          Target("test_accuracy", 0.75, "VISUM practical §2: about 0.75 test accuracy"),
          "VGG-style ConvNet (VISUM Table 1)", model="vgg", **{**UVA, "learning_rate": 1e-3},
          **CONVNET)
_register("cifar10-preact-vgg13", "UvA DL practical 1 (Figure 5): PreAct VGG-13",
          Target("test_accuracy", 0.79, "UvA DL practical 1: >= 0.79 test accuracy"),
          "Pre-activation VGG-13 (UvA Figure 5)", model="preact_vgg13", **UVA, **CONVNET)
_register("cifar10-simple-cnn", "TDT4265 assignment 3 task 2 (Table 2)",
          Target("test_accuracy", 0.68, "TDT4265 assignment 3 task 2: 68-72% test accuracy"),
          "Simple CNN (TDT4265 Table 2)", model="simple_cnn", optimizer="sgd",
          learning_rate=5e-2, batch_size=64, epochs=10, normalization="tdt4265",
          # the starter trainer validates twice per epoch (704 batches of 64), stops once the
          # oldest of the last 4 validation losses is their minimum (= 3 evaluations without
          # improvement) and the solution reloads the best checkpoint before testing
          eval_every=352, patience=3, restore_best=True, **CONVNET)
TASK3 = dict(optimizer="nesterov", momentum=0.9, weight_decay=5e-4, batch_size=256, epochs=10,
             schedule="onecycle", augment=True, label_smoothing=0.2, **CONVNET)
_register("cifar10-cnn-a", "TDT4265 assignment 3 task 3: own design A",
          Target("test_accuracy", 0.75, "TDT4265 task 3: >= 75% within 10 epochs"),
          "Own design A (TDT4265 task 3)", model="cnn_a", learning_rate=0.2, **TASK3)
_register("cifar10-cnn-b", "TDT4265 assignment 3 task 3: own design B",
          Target("test_accuracy", 0.75, "TDT4265 task 3: >= 75% within 10 epochs"),
          "Own design B (TDT4265 task 3)", model="cnn_b", learning_rate=0.2, **TASK3)
_register("cifar10-cnn-best", "TDT4265 assignment 3 task 3: best design (speed flagship)",
          Target("test_accuracy", 0.80, "TDT4265 task 3: >= 80% within 10 epochs"),
          "Best design (TDT4265 task 3)", model="cnn_best", learning_rate=0.4, **TASK3)
