"""Handwritten characters in PyTorch (16-720 / COMP5421 hw5 Q7.1), and the OCR classifier.

* ``chars-fc-torch`` (Q7.1.1): the hw5 fully connected network (1024 -> 64 sigmoid -> 36
  softmax, Xavier init, plain SGD) re-written in PyTorch on chars36, with the same
  hyper-parameters as the NumPy ``chars-fc-scratch``.
* ``mnist-cnn`` (Q7.1.2): a small BatchNorm CNN (:class:`neuralab.models.charcnn.CharCNN`) on
  MNIST, one-cycle SGD, random shifts/rotations/scaling.
* ``chars-cnn`` (Q7.1.3): the same CNN on chars36 at its stored 32x32, per-class accuracy,
  confusion matrix and the most frequent confusions (O/0, I/1 ... are in the data).
* ``emnist-cnn`` (Q7.1.4): the classifier ``neuralab ocr`` uses. chars36's training split
  (EMNIST ByClass 0-9 + A-Z) at EMNIST's own 28x28 frame (the centre of the 32x32 images),
  augmented for photos: stroke thickness, rotation, shift, scale.
* ``ocr-model``: the classifier shipped inside the package (``neuralab/ocr/model/``), what
  ``neuralab ocr`` uses when no ``--model`` is given. The same CNN and augmentation trained on
  *real training splits*: EMNIST Letters train (A-Z, upper and lower case merged) + MNIST
  train (0-9, re-framed like EMNIST: :func:`emnist_frame`), 36 classes in chars36's order;
  evaluated on EMNIST Letters test, MNIST test and the hw5 photos. After training, one
  offset for the ten digit logits is fitted (:func:`calibrate_digit_bias`) on EMNIST ByClass
  test digits and capitals with every image shared with EMNIST Letters (about 14% of them)
  removed: case-merged letters and MNIST's style otherwise make handwritten 1, 2, 6, 9, 0
  read as L, Z, G, Q, O.

Every run writes ``classifier.json`` beside its checkpoint (:mod:`neuralab.ocr.classifier`):
``neuralab ocr --model <experiment or run folder>`` loads any of them.

Augmentation (:func:`char_transform`) runs on whole batches of tensors: one random affine
matrix per image applied with ``affine_grid``/``grid_sample``, stroke thickness changed by
blending each image with its 3x3 grey dilation (max-pool) or erosion (min-pool).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from neuralab.data.augment import NORMALIZATION
from neuralab.experiments.common import classifier_result, count_parameters, split_loader
from neuralab.experiments.registry import RunResult, Target, experiment, register_recipe
from neuralab.ocr.classifier import ClassifierSpec, write_spec
from neuralab.ocr.crops import CropSpec
from neuralab.train import Trainer, TrainSettings, make_optimizer, make_scheduler

HANDOUT = "COMP5421 / 16-720 hw5"
# chars36 stores EMNIST's 28x28 frame zero-padded by 2 px a side; its normalisation at 28 px
# is EMNIST's (measured on the ByClass test split), at 32 px chars36's own.
CHARS36_PAD = 2
OCR_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# The hw5 handout photos in $NEURALAB_DATA/hw5 and their text, typed from the images (the same
# as tests/ocr/ocr_ground_truth.py; a test keeps the two equal). sha256 from the data README.
HW5_PHOTOS = {
    "01_list.jpg": ("TO DO LIST\n1. MAKE A TO DO LIST\n2. CHECK OFF THE FIRST\n"
                    "THING ON TO DO LIST\n3. REALIZE YOU HAVE ALREADY\nCOMPLETED 2 THINGS\n"
                    "4. REWARD YOURSELF WITH\nA NAP"),
    "02_letters.jpg": "ABCDEFG\nHIJKLMN\nOPQRSTU\nVWXYZ\n1234567890",
}
HW5_SHA256 = {
    "01_list.jpg": "sha256:30937d02f89b6aab490b231340901b61309b090a88269e2e6617cad6da9230b4",
    "02_letters.jpg": "sha256:1187b79093ad73ff6fb2e14a800923b496e84b406433ee545bab716862bec6f6",
}
# look-alikes EMNIST itself cannot tell apart (its writers' O and 0, I and 1 share shapes)
LOOKALIKES = (("O", "0"), ("I", "1"))
# ocr36: EMNIST Letters (labels 0-25 = A-Z) + MNIST (0-9), 36 classes in chars36's order
OCR36 = "ocr36"
DATASETS = ("mnist", "chars36", OCR36)
# EMNIST's frame: a 24-px character centred by its box in 28x28. Measured on 3,000 images:
# the longer side of the box of pixels > 0 has median 26 px in EMNIST Letters train (22 px at
# > 127), 20 px in MNIST train. MNIST digits scaled so that box becomes 24 px come out 26 px
# (> 0) and 24 px (> 127) after bilinear resampling, mean pixel 48 against EMNIST's 44.
EMNIST_BOX = 24


# ----------------------------------------------------------------------------- transforms
@dataclass(frozen=True)
class Augment:
    """Random per-image distortions (all off by default).

    ``shift``: px, uniform in [-shift, shift] on each axis. ``rotate``: degrees, uniform in
    [-rotate, rotate]. ``scale``: relative, the size is multiplied by 1 + U(-scale, scale).
    ``thicken``/``thin``: stroke thickness; each image is blended with its 3x3 grey
    dilation (weight U(0, thicken)) or erosion (weight U(0, thin)), half of them each way.
    """

    shift: float = 0.0
    rotate: float = 0.0
    scale: float = 0.0
    thicken: float = 0.0
    thin: float = 0.0

    @property
    def active(self) -> bool:
        return any(v > 0 for v in dataclasses.astuple(self))


def _uniform(n: int, generator: torch.Generator | None, device) -> torch.Tensor:
    """U(-1, 1) ``[n]`` drawn from ``generator`` (on its device), moved to ``device``."""
    where = generator.device if generator is not None else device
    return (torch.rand(n, generator=generator, device=where) * 2 - 1).to(device)


def random_thickness(x: torch.Tensor, thicken: float, thin: float,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Thicker or thinner strokes: ``x + w (dilate(x) - x)`` or ``x + w (erode(x) - x)``.

    x: ``[N, C, H, W]`` with ink bright (white on black). Each image is thickened (weight
    U(0, thicken)) or thinned (weight U(0, thin)) with equal probability.
    """
    n = x.shape[0]
    u = _uniform(n, generator, x.device)  # sign picks the direction, |u| the amount
    w = torch.where(u >= 0, u * thicken, -u * thin).view(n, 1, 1, 1).to(x.dtype)
    target = torch.where((u >= 0).view(n, 1, 1, 1), _window3(x, torch.maximum),
                         _window3(x, torch.minimum))
    return x + w * (target - x)


def _window3(x: torch.Tensor, op) -> torch.Tensor:
    """3x3 grey dilation (``op=torch.maximum``) or erosion (``torch.minimum``) of
    ``[N, C, H, W]``, separable, zero outside the image (faster than a stride-1 max-pool)."""
    p = F.pad(x, (1, 1, 1, 1))
    rows = op(op(p[..., :, :-2], p[..., :, 1:-1]), p[..., :, 2:])
    return op(op(rows[..., :-2, :], rows[..., 1:-1, :]), rows[..., 2:, :])


def random_affine(x: torch.Tensor, shift: float, rotate: float, scale: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """One random rotation + scaling + translation per image of ``[N, C, H, W]`` (bilinear,
    zeros outside: the background must be 0, i.e. white-on-black before normalising)."""
    n, _, h, w = x.shape
    dev = x.device
    angle = _uniform(n, generator, dev) * math.radians(rotate)
    size = 1 + _uniform(n, generator, dev) * scale
    tx = _uniform(n, generator, dev) * shift * 2 / w
    ty = _uniform(n, generator, dev) * shift * 2 / h
    cos, sin = torch.cos(angle) / size, torch.sin(angle) / size  # output -> input coordinates
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def char_transform(mean: float, std: float, *, crop: int = 0, augment: Augment | None = None,
                   channels_last: bool = False):
    """uint8 ``[B, H, W, 1]`` -> normalised float ``[B, 1, H - 2 crop, W - 2 crop]``.

    ``crop`` px are cut from every side first (chars36's 32 -> EMNIST's 28), then ``augment``
    (train only), then ``(x - mean) / std``. Batched on the loader's device.
    """

    def transform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.permute(0, 3, 1, 2).float().div_(255.0)
        if crop:
            x = x[:, :, crop:-crop, crop:-crop]
        if augment is not None and augment.active:
            if augment.thicken > 0 or augment.thin > 0:
                x = random_thickness(x, augment.thicken, augment.thin, generator)
            if augment.shift > 0 or augment.rotate > 0 or augment.scale > 0:
                x = random_affine(x, augment.shift, augment.rotate, augment.scale, generator)
        x = (x - mean) / std
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x.contiguous() if not channels_last else x

    return transform


# ----------------------------------------------------------------------------- data
def emnist_frame(images: np.ndarray, box: int = EMNIST_BOX, batch: int = 10000) -> np.ndarray:
    """MNIST-style digits re-framed like EMNIST: uint8 ``[N, 28, 28, 1]`` -> the same shape.

    Each image is scaled (bilinear) so that the longer side of its ink box (pixels > 0) is
    ``box`` px and moved so that the box's centre is the image's centre: MNIST fits a
    20-px box and centres the centre of mass, EMNIST a 24-px character centred by its box
    (see :data:`EMNIST_BOX`). Blank images are returned unchanged.
    """
    x = np.asarray(images)
    out = np.empty_like(x)
    n, h, w = x.shape[:3]
    for i in range(0, n, batch):
        chunk = torch.from_numpy(x[i : i + batch, ..., 0].astype(np.float32))  # [B, H, W]
        ink = chunk > 0
        rows, cols = ink.any(2), ink.any(1)  # [B, H], [B, W]
        blank = ~rows.any(1)
        ar_h, ar_w = torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32)
        y1 = torch.where(rows, ar_h, float(h)).amin(1)
        y2 = torch.where(rows, ar_h, -1.0).amax(1)
        x1 = torch.where(cols, ar_w, float(w)).amin(1)
        x2 = torch.where(cols, ar_w, -1.0).amax(1)
        side = torch.maximum(y2 - y1 + 1, x2 - x1 + 1).clamp(min=1)
        scale = torch.where(blank, 1.0, box / side)  # output px per input px
        cy = torch.where(blank, (h - 1) / 2, (y1 + y2) / 2)
        cx = torch.where(blank, (w - 1) / 2, (x1 + x2) / 2)
        # affine_grid maps output -> input in [-1, 1] coordinates (align_corners=False)
        ty, tx = (2 * cy + 1) / h - 1, (2 * cx + 1) / w - 1
        zero = torch.zeros_like(scale)
        theta = torch.stack([torch.stack([1 / scale, zero, tx], 1),
                             torch.stack([zero, 1 / scale, ty], 1)], 1)
        grid = F.affine_grid(theta, [len(chunk), 1, h, w], align_corners=False)
        moved = F.grid_sample(chunk[:, None], grid, mode="bilinear", padding_mode="zeros",
                              align_corners=False)[:, 0]
        out[i : i + batch, ..., 0] = moved.round().clamp(0, 255).to(torch.uint8).numpy()
    return out


def ocr36_splits(ctx, val_size: int = 0, train_subset: int | None = None,
                 test_subset: int | None = None):
    """``({train, val?, test, test_letters, test_mnist}, classes)`` for ``ocr36``.

    EMNIST Letters (``data.load("emnist", split="letters")``: upright, labels 0-25 = A-Z with
    upper and lower case merged) become classes 10-35; MNIST (re-framed by
    :func:`emnist_frame`) classes 0-9. ``train`` = both training splits; ``val_size`` images
    are held out of it (stratified, seed 0); ``test`` = both test splits, also kept apart as
    ``test_letters`` and ``test_mnist``.
    """
    from neuralab.data.dataset import Split
    from neuralab.data.splits import hold_out, stratified_subset

    letters = ctx.load_data("emnist", split="letters")
    mnist = ctx.load_data("mnist")
    digits = len(mnist.classes)
    classes = list(OCR_ALPHABET)
    if [c[0].upper() for c in letters.classes] != classes[digits:]:
        from neuralab.errors import NeuralabError

        raise NeuralabError(f"EMNIST letters classes {letters.classes} are not A-Z")

    def part(name: str) -> tuple[Split, Split]:
        a, b = letters.splits[name], mnist.splits[name]
        return Split(a.images, a.labels + digits), Split(emnist_frame(b.images), b.labels)

    def both(a: Split, b: Split) -> Split:
        return Split(np.concatenate([b.images, a.images]), np.concatenate([b.labels, a.labels]))

    train = both(*part("train"))
    out = {}
    if val_size > 0:
        train, out["val"] = hold_out(train, val_size)
        out["val"] = stratified_subset(out["val"], test_subset, setting="test_subset")
    out = {"train": stratified_subset(train, train_subset), **out}
    test_letters, test_mnist = (stratified_subset(s, test_subset, setting="test_subset")
                                for s in part("test"))
    out.update(test=both(test_letters, test_mnist), test_letters=test_letters,
               test_mnist=test_mnist)
    return out, classes


def character_splits(ctx, dataset: str, val_size: int = 0, train_subset: int | None = None,
                     test_subset: int | None = None, size: int = 28):
    """``({train, val?, test}, classes)`` of ``dataset`` (mnist, chars36, ocr36, or PATH: an
    image folder of characters, read as ``size`` x ``size`` gray images; like MNIST they
    should be white on black).

    MNIST has no validation split: ``val_size`` > 0 holds out that many training images
    (stratified, seed 0; at most a tenth of a folder's). ``*_subset`` take stratified subsets
    (smoke tests). ocr36: see :func:`ocr36_splits`.
    """
    from neuralab.data import is_folder_name, load_options, stratified_subset, validation_split

    if dataset == OCR36:
        return ocr36_splits(ctx, val_size, train_subset, test_subset)
    data = ctx.load_data(dataset, **load_options(dataset, size=size, mode="L"))
    splits = dict(data.splits)
    if "val" in splits or val_size > 0:
        splits["train"], splits["val"] = validation_split(
            data, val_size, "val_size", user_folder=is_folder_name(dataset))
    out = {"train": stratified_subset(splits["train"], train_subset)}
    if "val" in splits:
        out["val"] = stratified_subset(splits["val"], test_subset, setting="test_subset")
    out["test"] = stratified_subset(splits["test"], test_subset, setting="test_subset")
    return out, list(data.classes)


def _class_prior(labels: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64) + 1.0
    return counts / counts.sum()


# ----------------------------------------------------------------------------- CNNs
@dataclass
class CharCNNConfig:
    """A CharCNN on MNIST or chars36, one-cycle SGD (Nesterov), optional augmentation."""

    dataset: str = "chars36"  # mnist | chars36 | ocr36 (EMNIST Letters + MNIST) | PATH (folder)
    input_size: int = 28  # chars36: 28 = EMNIST's frame (centre of the 32x32), 32 = as stored
    widths: tuple[int, ...] = (32, 64, 128)  # channels of the 3 conv stages (exactly 3)
    dropout: float = 0.2  # before the linear head
    learning_rate: float = 0.1  # one-cycle peak
    momentum: float = 0.9  # Nesterov
    weight_decay: float = 5e-4
    batch_size: int = 128
    epochs: int = 6
    label_smoothing: float = 0.1  # cross-entropy label smoothing (0 = off)
    shift: float = 0.0  # augmentation: random shift up to +-N px on each axis (0 = off)
    rotate: float = 0.0  # random rotation up to +-N degrees
    scale: float = 0.0  # random size factor 1 + U(-scale, scale)
    thicken: float = 0.0  # half the images: blend with 3x3 dilation, weight U(0, thicken)
    thin: float = 0.0  # the other half: blend with 3x3 erosion, weight U(0, thin)
    val_size: int = 0  # MNIST, ocr36: training images held out for validation
    train_subset: int | None = None  # about N training images, stratified (smoke tests)
    test_subset: int | None = None  # about N test (and N validation) images, stratified
    balance_tau: float = 0.0  # OCR: logit bias -tau * log(train prior) in classifier.json
    read_photos: bool = False  # read the hw5 photos with the trained classifier (CER)
    eval_train: bool = True  # final loss/accuracy on the whole training split too
    calibrate_digits: bool = False  # ocr36: fit the digits' logit offset (calibrate_digit_bias)
    channels_last: bool = True  # NHWC memory layout
    precision: str = "fp32"  # fp32 | bf16 | auto (CPU: bf16 where supported and faster)


def _normalization(dataset: str, size: int) -> tuple[float, float]:
    if dataset == OCR36:  # EMNIST's frame and statistics (MNIST is re-framed to it)
        (m,), (s,) = NORMALIZATION["emnist"]
    elif dataset == "mnist":
        (m,), (s,) = NORMALIZATION["mnist"]
    else:
        (m,), (s,) = NORMALIZATION["emnist" if size == 28 else "chars36"]
    return float(m), float(s)


def crop_spec_for(dataset: str, size: int) -> CropSpec:
    """How photo crops must look for a model trained on ``dataset`` at ``size`` px.

    EMNIST/chars36/ocr36 at 28 px: the default :data:`~neuralab.ocr.crops.EMNIST` spec (24-px
    character, 2-px margin). chars36 at 32 px: the same character with chars36's 2 extra px
    of padding (margin 4). MNIST: a 20-px character in 28 px centred by mass.
    """
    if dataset == "mnist":
        return CropSpec(size=28, margin=4, center="mass")
    if size == 32:
        return CropSpec(size=32, margin=2 + CHARS36_PAD)
    return CropSpec(size=28, margin=2)


def _crop_fields(spec: CropSpec) -> dict:
    return {k: v for k, v in dataclasses.asdict(spec).items() if k not in ("size", "polarity")}


def train_char_cnn(cfg: CharCNNConfig, ctx, title: str, notes: str = "") -> RunResult:
    """Train :class:`CharCNN` per ``cfg``; evaluate, plot, write ``classifier.json``."""
    from neuralab.data.registry import is_folder_name
    from neuralab.errors import NeuralabError
    from neuralab.models import build_model

    folder = is_folder_name(cfg.dataset)
    if cfg.dataset not in DATASETS and not folder:
        raise NeuralabError(f"dataset must be one of {', '.join(DATASETS)} or an image folder "
                            f"PATH, got {cfg.dataset!r}")
    if (cfg.dataset in ("mnist", OCR36) and cfg.input_size != 28
            or cfg.input_size not in (28, 32)):
        raise NeuralabError(f"input_size {cfg.input_size}: MNIST and ocr36 are 28, chars36 "
                            "and image folders 28 or 32")
    torch.manual_seed(ctx.seed)
    splits, classes = character_splits(ctx, cfg.dataset, cfg.val_size, cfg.train_subset,
                                       cfg.test_subset, size=cfg.input_size)
    stored = splits["train"].images.shape[1]
    crop = (stored - cfg.input_size) // 2
    mean, std = _normalization(cfg.dataset, cfg.input_size)
    aug = Augment(cfg.shift, cfg.rotate, cfg.scale, cfg.thicken, cfg.thin)
    eval_tf = char_transform(mean, std, crop=crop, channels_last=cfg.channels_last)
    train_tf = char_transform(mean, std, crop=crop, augment=aug, channels_last=cfg.channels_last)
    loaders = {name: split_loader(s, 1000, train=False, seed=ctx.seed, device=ctx.device,
                                  transform=eval_tf) for name, s in splits.items()
               if name != "train" or cfg.eval_train}
    train_loader = split_loader(splits["train"], cfg.batch_size, train=True, seed=ctx.seed,
                                device=ctx.device, transform=train_tf)
    kwargs = {"in_channels": 1, "n_classes": len(classes), "widths": list(cfg.widths),
              "dropout": cfg.dropout}
    model = build_model("char_cnn", **kwargs)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer("nesterov", model.parameters(), cfg.learning_rate, cfg.momentum,
                         cfg.weight_decay)
    sched = make_scheduler("onecycle", opt, cfg.learning_rate, cfg.epochs * len(train_loader))
    smoothing = cfg.label_smoothing
    trainer = Trainer(model, opt, train_loader, val_loader=loaders.get("val"),
                      loss_fn=lambda out, y: F.cross_entropy(out, y, label_smoothing=smoothing),
                      scheduler=sched,
                      settings=TrainSettings(max_epochs=cfg.epochs, precision=cfg.precision),
                      device=ctx.device, checkpoint_dir=ctx.checkpoint_dir, log=ctx.log)
    trainer.fit(resume=ctx.resume)
    result = classifier_result(ctx, trainer, loaders, classes, title,
                               notes=_cnn_notes(cfg, splits, notes))
    result.metrics["parameters"] = count_parameters(model)
    result.metrics["wall_time_s"] = round(trainer.elapsed_s, 2)
    n_seen = trainer.step * cfg.batch_size
    result.metrics["train_images_per_s"] = round(n_seen / max(trainer.elapsed_s, 1e-9), 1)
    _balanced_accuracy(result)
    bias = None
    if cfg.balance_tau:
        prior = _class_prior(splits["train"].labels, len(classes))
        bias = [round(float(v), 6) for v in -cfg.balance_tau * np.log(prior)]
    if ctx.is_main:
        write_spec(ctx.out_dir, ClassifierSpec(
            model="char_cnn", kwargs=kwargs, classes=classes, input_size=cfg.input_size,
            polarity="white_on_black", mean=mean, std=std,
            crop=_crop_fields(crop_spec_for(cfg.dataset, cfg.input_size)), logit_bias=bias,
            experiment=ctx.name, notes=f"{title}; trained on {cfg.dataset} at "
                                       f"{cfg.input_size}x{cfg.input_size}, white on black"))
    if cfg.dataset in ("chars36", OCR36):
        _lookalike_accuracy(result, trainer, loaders["test"], classes)
    if cfg.dataset == OCR36:
        for name in ("test_letters", "test_mnist"):
            _typed_accuracy(result, trainer, loaders[name], classes, name)
    if cfg.calibrate_digits and cfg.dataset == OCR36 and ctx.is_main:
        cal = calibrate_digit_bias(ctx.out_dir, ctx.data_dir)
        result.metrics["digit_bias"] = cal["digit_bias"]
        result.metrics.update({f"calibrated_{k}": v for k, v in cal["after"].items()})
    if cfg.read_photos and ctx.is_main:
        photo_metrics, rows = read_hw5_photos(ctx, ctx.out_dir)
        result.metrics.update(photo_metrics)
        if rows:
            result.tables["hw5_photos"] = rows
    return result


def _lookalike_accuracy(result: RunResult, trainer: Trainer, loader, classes: list[str]) -> None:
    """``test_accuracy_lookalikes_merged``: test accuracy when O/0 and I/1 count as one class,
    i.e. what the network gets wrong besides the confusions the data cannot resolve."""
    from neuralab.train import predict

    pred, true = (t.numpy() for t in predict(loader, trainer.module, trainer.device))
    group = np.arange(len(classes))
    for a, b in LOOKALIKES:
        if a in classes and b in classes:
            group[classes.index(a)] = classes.index(b)
    result.metrics["test_accuracy_lookalikes_merged"] = round(
        float((group[pred] == group[true]).mean()), 4)


def _typed_accuracy(result: RunResult, trainer: Trainer, loader, classes: list[str],
                    name: str) -> None:
    """``<name>_accuracy_typed``: accuracy when the answer is restricted to the true class's
    type (letters for a letter, digits for a digit), what the OCR's word prior can reach."""
    model, device = trainer.module, trainer.device
    digit = np.array([c.isdigit() for c in classes])
    hits, total = 0, 0
    model.eval()
    with torch.no_grad():
        for xb, yb in loader:
            logits = model(xb.to(device)).float().cpu().numpy()
            y = yb.cpu().numpy()
            same = digit[None, :] == digit[y][:, None]  # [B, C] classes of the true type
            pred = np.where(same, logits, -np.inf).argmax(1)
            hits, total = hits + int((pred == y).sum()), total + len(y)
    result.metrics[f"{name}_accuracy_typed"] = round(hits / max(total, 1), 4)


def read_hw5_photos(ctx, run_dir) -> tuple[dict, list[dict]]:
    """Read the hw5 photos present in ``$NEURALAB_DATA/hw5`` as ``neuralab ocr --model
    run_dir`` does; returns metrics (``hw5_photo_cer``: edits / characters pooled over the
    photos, case-sensitive, alphabet 0-9A-Z, whitespace ignored; per photo too, and without
    the word-level letter/digit prior) and one table row per photo."""
    from neuralab.data import data_root
    from neuralab.data.integrity import file_digest
    from neuralab.ocr import character_error_rate, load_image, read_text
    from neuralab.ocr.cer import normalize_text
    from neuralab.ocr.classifier import load_classifier
    from neuralab.ocr.cli import with_word_context

    folder = data_root(ctx.data_dir) / "hw5"
    present = {n: t for n, t in HW5_PHOTOS.items() if (folder / n).is_file()}
    if not present:
        ctx.log(f"no hw5 photos in {folder}: photo CER not measured")
        return {}, []
    digests = {n: file_digest(folder / n, "sha256") for n in present}
    ctx.record_data({"name": "hw5-photos", "path": str(folder), "format": "jpg",
                     "checksum": ";".join(digests.values()),
                     "verified": all(digests[n] == HW5_SHA256[n] for n in present),
                     "note": "hw5 handout photos of handwriting (text typed from the images)",
                     "files": digests})
    classify = load_classifier(run_dir)
    metrics: dict = {}
    rows, edits, total = [], 0.0, 0
    for name, truth in present.items():
        raw = read_text(load_image(folder / name), classify, spec=classify.crop_spec)
        read = with_word_context(raw, classify)
        n = len(normalize_text(truth, OCR_ALPHABET))
        cer = character_error_rate(read.text, truth, OCR_ALPHABET)
        cer_raw = character_error_rate(raw.text, truth, OCR_ALPHABET)
        edits, total = edits + cer * n, total + n
        stem = name.split(".")[0]
        metrics[f"cer_{stem}"], metrics[f"cer_{stem}_without_word_prior"] = (
            round(cer, 4), round(cer_raw, 4))
        rows.append({"photo": name, "characters": n, "boxes": len(raw.boxes),
                     "cer": round(cer, 4), "cer_without_word_prior": round(cer_raw, 4),
                     "text": read.text.replace("\n", " | ")})
        ctx.log(f"{name}: CER {cer:.4f} ({cer_raw:.4f} without the word prior)")
    metrics["hw5_photo_cer"] = round(edits / total, 4)
    return metrics, rows


# ----------------------------------------------------------------------------- calibration
DIGIT_BIASES = tuple(np.round(np.arange(0.0, 4.01, 0.25), 2))  # nats tried for the digits
CALIBRATION_FILE = "calibration.json"


def _image_keys(images: np.ndarray) -> set[bytes]:
    """The exact bytes of each ``[N, 28, 28, 1]`` image (to find the same image in another
    split)."""
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    return {row.tobytes() for row in flat}


def calibrate_digit_bias(run_dir, data_dir=None, per_class: int = 600,
                         biases: tuple[float, ...] = DIGIT_BIASES) -> dict:
    """Fit the digits' logit offset of an ``ocr36`` classifier to uppercase handwriting.

    EMNIST Letters merges upper and lower case, so shapes like l, g, q, b, o, s, z are
    letters in training and pull handwritten 1, 9, 6, 0, 5, 2 towards L, G, Q, B, O, S, Z;
    the OCR reads uppercase and digits only. The offset added to the ten digit logits is
    chosen to maximise the balanced 36-way accuracy on real uppercase letters and digits the
    model never saw: ``per_class`` images of each class of the EMNIST ByClass test split
    (digits + A-Z, seed 0) after removing every image that also occurs, byte for byte, in
    EMNIST Letters (train or test; about 14% of ByClass letters do). The hw5 photos play no
    part in the choice. Writes the offset into ``run_dir/classifier.json`` (``logit_bias``)
    and the evidence into ``run_dir/calibration.json``; returns that document.
    """
    from pathlib import Path

    from neuralab import data
    from neuralab.io import read_json, write_json
    from neuralab.ocr.classifier import SPEC_FILE, ClassifierSpec, load_classifier

    run_dir = Path(run_dir)
    clf = load_classifier(run_dir)
    if clf.classes != list(OCR_ALPHABET):
        from neuralab.errors import NeuralabError

        raise NeuralabError(f"{run_dir}: calibration needs the 36 classes 0-9 A-Z")
    letters = data.load("emnist", split="letters", data_dir=data_dir)
    seen = set().union(*(_image_keys(s.images) for s in letters.splits.values()))
    byclass = data.load("emnist", split="byclass", data_dir=data_dir)["test"]
    keep = byclass.labels < len(OCR_ALPHABET)
    images, labels = byclass.images[keep], byclass.labels[keep]
    fresh = np.array([row.tobytes() not in seen
                      for row in np.ascontiguousarray(images).reshape(len(images), -1)])
    rng = np.random.default_rng(0)
    pick = np.concatenate([rng.permutation(np.nonzero(fresh & (labels == c))[0])[:per_class]
                           for c in range(len(OCR_ALPHABET))])
    crops = images[pick, ..., 0].astype(np.float32) / 255
    spec = ClassifierSpec.from_dict(read_json(run_dir / SPEC_FILE))
    base = np.asarray(spec.logit_bias or np.zeros(len(OCR_ALPHABET)), dtype=np.float32)
    z = clf.logits(crops) - base  # without any earlier offset
    y = labels[pick]
    digit = np.arange(len(OCR_ALPHABET)) < 10
    rows = []
    for b in biases:
        pred = (z + b * digit).argmax(1)
        per = [float((pred[y == c] == c).mean()) for c in range(len(OCR_ALPHABET))]
        rows.append({"digit_bias": float(b), "balanced_accuracy": round(float(np.mean(per)), 4),
                     "digits": round(float(np.mean(per[:10])), 4),
                     "letters": round(float(np.mean(per[10:])), 4)})
    best = max(rows, key=lambda r: (r["balanced_accuracy"], -r["digit_bias"]))
    spec.logit_bias = [round(best["digit_bias"], 4) if d else 0.0 for d in digit]
    write_json(run_dir / SPEC_FILE, spec.to_dict())
    doc = {"digit_bias": best["digit_bias"], "criterion": "balanced 36-way accuracy",
           "held_out": {"split": "EMNIST ByClass test, digits + A-Z", "per_class": per_class,
                        "images": int(len(pick)), "seed": 0,
                        "excluded_overlap_with_letters": int((~fresh).sum()),
                        "of": int(len(fresh)), "checksum": byclass_checksum(data_dir)},
           "grid": rows, "command": f"python -m neuralab.experiments.handwriting calibrate "
                                    f"{run_dir}"}
    doc["after"] = _calibrated_metrics(run_dir, data_dir)
    write_json(run_dir / CALIBRATION_FILE, doc)
    return doc


def _calibrated_metrics(run_dir, data_dir=None) -> dict:
    """Test accuracies (EMNIST Letters test, MNIST test; 36-way and type-restricted) and
    the hw5 photo CERs of the classifier in ``run_dir`` as it is now (offset included)."""
    from neuralab import data
    from neuralab.ocr.classifier import load_classifier

    clf = load_classifier(run_dir)
    digit = np.array([c.isdigit() for c in clf.classes])
    out: dict = {}
    letters = data.load("emnist", split="letters", data_dir=data_dir)["test"]
    mnist = data.load("mnist", data_dir=data_dir)["test"]
    for key, images, labels in (("test_letters", letters.images, letters.labels + 10),
                                ("test_mnist", emnist_frame(mnist.images), mnist.labels)):
        z = clf.logits(images[..., 0].astype(np.float32) / 255)
        same = digit[None, :] == digit[labels][:, None]
        out[f"{key}_accuracy"] = round(float((z.argmax(1) == labels).mean()), 4)
        out[f"{key}_accuracy_typed"] = round(
            float((np.where(same, z, -np.inf).argmax(1) == labels).mean()), 4)

    class _Ctx:  # what read_hw5_photos needs of a run context
        def __init__(self):
            self.data_dir, self.sources = data_dir, []

        def record_data(self, source):
            self.sources.append(source)

        def log(self, message):
            print(f"[calibrate] {message}")

    photos, _ = read_hw5_photos(_Ctx(), run_dir)
    out.update(photos)
    return out


def byclass_checksum(data_dir=None) -> str:
    from neuralab import data

    return data.load("emnist", split="byclass", data_dir=data_dir).source.checksum


def _cnn_notes(cfg: CharCNNConfig, splits, extra: str = "") -> str:
    sizes = ", ".join(f"{k} {len(v.labels):,}" for k, v in splits.items())
    if cfg.dataset == "mnist":
        data = f"MNIST (official idx files; {sizes})"
    elif cfg.dataset == OCR36:
        data = (f"ocr36 = EMNIST Letters train (A-Z, upper and lower case merged) + MNIST train "
                f"(0-9, re-framed like EMNIST: ink box scaled to {EMNIST_BOX} px, centred "
                f"by its box), 36 classes 0-9 A-Z; tests: EMNIST Letters test + MNIST test "
                f"({sizes}); 28x28, white on black")
    else:
        frame = ("the 28x28 EMNIST frame (centre of the 32x32 images)" if cfg.input_size == 28
                 else "the stored 32x32 images")
        data = (f"chars36 = EMNIST ByClass test split, digits + capitals, stratified 70/15/15 "
                f"({sizes}), at {frame}, white on black")
    aug = Augment(cfg.shift, cfg.rotate, cfg.scale, cfg.thicken, cfg.thin)
    aug_text = (f"per-image shift +-{cfg.shift:g} px, rotation +-{cfg.rotate:g} deg, scale "
                f"+-{cfg.scale:g}" + (f", stroke thicken <= {cfg.thicken:g} / thin <= "
                                      f"{cfg.thin:g} (3x3 dilation/erosion blend)"
                                      if cfg.thicken or cfg.thin else "")
                if aug.active else "none")
    return (f"{extra + ' ' if extra else ''}Data: {data}. Model: CharCNN widths "
            f"{tuple(cfg.widths)}, BN, global average pooling, dropout {cfg.dropout:g}. "
            f"Training: SGD Nesterov momentum {cfg.momentum:g}, weight decay "
            f"{cfg.weight_decay:g}, one-cycle to lr {cfg.learning_rate:g}, batch "
            f"{cfg.batch_size}, {cfg.epochs} epochs, label smoothing {cfg.label_smoothing:g}; "
            f"augmentation (batched on tensors): {aug_text}. classifier.json beside the "
            "checkpoint lets `neuralab ocr --model RUN_DIR` use the network.")


def _balanced_accuracy(result: RunResult) -> None:
    """Mean of the per-class test accuracies (``test_balanced_accuracy``)."""
    rows = result.tables.get("per_class_accuracy")
    if rows:
        result.metrics["test_balanced_accuracy"] = round(
            float(np.mean([r["accuracy"] for r in rows])), 4)


def describe(cfg: CharCNNConfig, data_dir=None):
    """What a character-CNN run trains (:mod:`neuralab.experiments.record`): ``char_cnn`` with
    one output per class, on gray images in the dataset's frame (chars36: 32 px) centre-cropped
    to ``input_size`` and normalised as in training. (The OCR reads photos through the run's
    classifier.json, which also holds its crop rules and digit calibration.)"""
    from neuralab.data import Preprocess, info, load_options
    from neuralab.experiments.record import ModelRecord

    options = load_options(cfg.dataset, size=cfg.input_size, mode="L")
    if cfg.dataset == OCR36:
        classes = list(OCR_ALPHABET)
    else:
        classes = list(info(cfg.dataset, data_dir=data_dir, **options).classes)
    stored = 32 if cfg.dataset == "chars36" else cfg.input_size
    mean, std = _normalization(cfg.dataset, cfg.input_size)
    args = {"in_channels": 1, "num_classes": len(classes), "widths": list(cfg.widths),
            "dropout": cfg.dropout}
    return ModelRecord(model="char_cnn", args=args, classes=classes, dataset=cfg.dataset,
                       dataset_options=options,
                       preprocess=Preprocess((mean,), (std,), size=stored, channels=1,
                                             crop=(stored - cfg.input_size) // 2).to_dict())


def _register_cnn(name: str, handout: str, target: Target, title: str, notes: str = "",
                  **defaults) -> None:
    def recipe(cfg: CharCNNConfig, ctx, title: str) -> RunResult:
        return train_char_cnn(cfg, ctx, title, notes)

    register_recipe(name, recipe, topic="handwriting", handout=handout, config=CharCNNConfig,
                    target=target, title=title, describe=describe, **defaults)


#: mnist-cnn, chars-cnn and emnist-cnn train in bf16 where the CPU has it and a probe of the
#: first batch finds it faster (CharCNN's step at batch 128: 2.0x on a 2-core Xeon with AMX,
#: 2026-12-07); ocr-model keeps fp32, the recipe of the model shipped in the package
_register_cnn(
    "mnist-cnn", f"{HANDOUT} Q7.1.2: a CNN on MNIST",
    Target("test_accuracy", 0.993, "issue 6: >= 99.3% MNIST test accuracy (aim 99.6%)"),
    "CharCNN on MNIST (BN, one-cycle, shifts/rotations)",
    dataset="mnist", input_size=28, widths=(32, 64, 128), epochs=6, batch_size=128,
    learning_rate=0.1, shift=2.0, rotate=10.0, scale=0.1, val_size=0, precision="auto")
_register_cnn(
    "chars-cnn", f"{HANDOUT} Q7.1.3: a CNN on NIST36 (chars36 stand-in)",
    Target("test_accuracy", 0.95, "issue 6: aim >= 95% test on chars36 (O/0 and I/1 are "
           "ambiguous in the data)"),
    "CharCNN on chars36 (32x32, 36 classes)",
    dataset="chars36", input_size=32, epochs=6, shift=2.0, rotate=8.0, scale=0.08,
    read_photos=True, precision="auto")
_register_cnn(
    "emnist-cnn", f"{HANDOUT} Q7.1.4: EMNIST classifier for the OCR of the photos",
    Target("hw5_photo_cer", 0.10, "issue 6: character error rate <= 10% on the hw5 photos "
           "01_list.jpg + 02_letters.jpg (aim 3%)", higher_is_better=False),
    "CharCNN on EMNIST 0-9 A-Z (28x28, photo augmentation) for neuralab ocr",
    dataset="chars36", input_size=28, epochs=6, shift=2.0, rotate=10.0, scale=0.12,
    thicken=0.6, thin=0.4, read_photos=True, precision="auto")
_register_cnn(
    "ocr-model", f"{HANDOUT} Q7.1.4: the classifier shipped with neuralab ocr",
    Target("hw5_photo_cer", 0.05, "issue 18: OCR out of the box; character error rate <= 5% "
           "on the hw5 photos 01_list.jpg + 02_letters.jpg with a model trained on real "
           "training splits (EMNIST Letters train + MNIST train)", higher_is_better=False),
    "CharCNN on EMNIST Letters + MNIST (36 classes, photo augmentation), shipped for neuralab "
    "ocr", dataset=OCR36, input_size=28, epochs=3, val_size=3000, shift=2.0, rotate=10.0,
    scale=0.12, thicken=0.6, thin=0.4, read_photos=True, eval_train=False,
    calibrate_digits=True)


# ----------------------------------------------------------------------------- FC (Q7.1.1)
# CharsFCConfig field -> chars-fc-scratch config field that must hold the same value
SCRATCH_FIELDS = {"hidden": "hidden_size", "learning_rate": "learning_rate",
                  "batch_size": "batch_size", "epochs": "max_iters"}


@dataclass
class CharsFCConfig:
    """hw5 Q3 network in PyTorch: 1024 -> hidden sigmoid -> 36, Xavier init, plain SGD.

    With ``summed_loss`` the step follows hw5's NumPy code, whose gradients are summed over the
    batch: ``learning_rate`` multiplies summed gradients (implemented as the mean loss with a
    ``batch_size`` times larger rate). The defaults follow ``chars-fc-scratch``.
    """

    dataset: str = "chars36"  # chars36, or PATH: a folder of characters (32x32 gray)
    hidden: int = 64  # sigmoid hidden units
    learning_rate: float = 1e-2  # plain SGD; per summed loss when summed_loss
    batch_size: int = 32
    epochs: int = 50
    summed_loss: bool = True  # hw5: lr x gradients summed over the batch (false: mean loss)
    train_subset: int | None = None  # about N training images, stratified (smoke tests)
    test_subset: int | None = None  # about N test (and N validation) images, stratified
    precision: str = "fp32"  # fp32 | bf16 | auto (CPU: bf16 where supported and faster)


def describe_fc(cfg: CharsFCConfig, data_dir=None):
    """What a ``chars-fc-torch`` run trains: ``char_fc`` on the flattened gray images, pixels
    in [0, 1] (no normalisation, as hw5 feeds them)."""
    from neuralab.data import Preprocess, info, load_options
    from neuralab.experiments.record import ModelRecord

    options = load_options(cfg.dataset, size=32, mode="L")
    facts = info(cfg.dataset, data_dir=data_dir, **options)
    size = facts.shape[1]
    return ModelRecord(model="char_fc", args={"n_inputs": size * size, "hidden": cfg.hidden,
                                              "num_classes": facts.num_classes},
                       classes=list(facts.classes), dataset=cfg.dataset,
                       dataset_options=options,
                       preprocess=Preprocess((0.0,), (1.0,), size=size, channels=1).to_dict())


@experiment(
    "chars-fc-torch", topic="handwriting",
    handout=f"{HANDOUT} Q7.1.1: the Q3 fully connected network in PyTorch",
    config=CharsFCConfig, describe=describe_fc,
    target=Target("test_accuracy", 0.75, "hw5 Q3: the NumPy network should reach about 75% on "
                  "NIST36; the PyTorch rewrite must land within 1 point of chars-fc-scratch"),
)
def run_chars_fc(cfg: CharsFCConfig, ctx) -> RunResult:
    """hw5's 1024-64-36 sigmoid network re-written in PyTorch on chars36."""
    from neuralab.models import build_model

    torch.manual_seed(ctx.seed)
    splits, classes = character_splits(ctx, cfg.dataset, 0, cfg.train_subset, cfg.test_subset,
                                       size=32)
    tf = char_transform(0.0, 1.0)  # [0, 1] pixels as hw5 feeds them, white on black
    loaders = {name: split_loader(s, 1000, train=False, seed=ctx.seed, device=ctx.device,
                                  transform=tf) for name, s in splits.items()}
    train_loader = split_loader(splits["train"], cfg.batch_size, train=True, seed=ctx.seed,
                                device=ctx.device, transform=tf)
    size = splits["train"].images.shape[1]
    kwargs = {"n_inputs": size * size, "hidden": cfg.hidden, "n_classes": len(classes)}
    model = build_model("char_fc", **kwargs)
    lr = cfg.learning_rate * (cfg.batch_size if cfg.summed_loss else 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    trainer = Trainer(model, opt, train_loader, val_loader=loaders.get("val"),
                      loss_fn=_hw5_loss(cfg.batch_size) if cfg.summed_loss else F.cross_entropy,
                      settings=TrainSettings(max_epochs=cfg.epochs, amp=False,
                                             precision=cfg.precision),
                      device=ctx.device, checkpoint_dir=ctx.checkpoint_dir, log=ctx.log)
    trainer.fit(resume=ctx.resume)
    notes = (f"hw5 Q3 network 1024-{cfg.hidden} sigmoid-{len(classes)} softmax in PyTorch, "
             f"Xavier-uniform init, plain SGD lr {cfg.learning_rate:g} "
             f"{'on the loss summed over' if cfg.summed_loss else 'on the mean loss of'} "
             f"batches of {cfg.batch_size}, {cfg.epochs} epochs, as chars-fc-scratch (NumPy). "
             "Data: chars36 (EMNIST ByClass test split, digits + capitals, 32x32, [0, 1] "
             "pixels flattened row-major), standing in for NIST36.")
    result = classifier_result(ctx, trainer, loaders, classes, "hw5 FC network (PyTorch)",
                               notes=notes)
    result.metrics["parameters"] = count_parameters(model)
    result.metrics["wall_time_s"] = round(trainer.elapsed_s, 2)
    _balanced_accuracy(result)
    _compare_with_numpy(result)
    if ctx.is_main:
        write_spec(ctx.out_dir, ClassifierSpec(
            model="char_fc", kwargs=kwargs, classes=classes, input_size=size,
            polarity="white_on_black", mean=0.0, std=1.0,
            crop=_crop_fields(crop_spec_for("chars36", size)), experiment=ctx.name,
            notes="hw5 Q7.1.1 FC network on chars36 32x32 [0, 1] pixels, white on black"))
    return result


def _hw5_loss(batch_size: int):
    """hw5's step on the summed loss, ``W -= lr * sum_i grad_i``, as ``lr * batch_size`` times
    the gradient of ``sum_i loss_i / batch_size``: exact for the smaller last batch of an epoch
    too. Evaluation (no gradient) gets the plain mean, so reported losses are per image."""

    def loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if out.requires_grad:
            return F.cross_entropy(out, y, reduction="sum") / batch_size
        return F.cross_entropy(out, y)

    return loss


def _compare_with_numpy(result: RunResult) -> None:
    """Put the NumPy ``chars-fc-scratch`` reference result (when committed) beside ours."""
    from pathlib import Path

    from neuralab.io import read_json

    path = Path("results") / "chars-fc-scratch.json"
    if not path.exists():
        return
    ref = read_json(path)
    value = ref.get("metrics", {}).get("test_accuracy", ref.get("value"))
    if value is None:
        return
    gap = result.metrics["test_accuracy"] - float(value)
    result.metrics["numpy_test_accuracy"] = value
    result.metrics["gap_to_numpy"] = round(gap, 4)
    result.notes += (f" NumPy chars-fc-scratch (results/chars-fc-scratch.json, "
                     f"{ref.get('date', '?')[:10]}): test accuracy {float(value):.4f}; this run "
                     f"{result.metrics['test_accuracy']:.4f} ({100 * gap:+.2f} points).")


def main(argv: list[str] | None = None) -> int:
    """``python -m neuralab.experiments.handwriting calibrate RUN_DIR [--data-dir DIR]``."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m neuralab.experiments.handwriting")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("calibrate", help="fit the digits' logit offset of an ocr36 run")
    p.add_argument("run_dir")
    p.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    doc = calibrate_digit_bias(args.run_dir, args.data_dir)
    print(json.dumps({k: doc[k] for k in ("digit_bias", "held_out")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
