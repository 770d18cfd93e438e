"""Dataset facts in one place: classes, input shape, normalisations, expected split sizes.

``neuralab.data.info(name)`` returns a :class:`DatasetInfo`; every dataset module declares its
own (``cifar10.INFO``, ``mnist.MNIST.info()``, ``emnist.info(split)``, ...) and the registry
hands it out, so nothing outside the data layer needs to hard-code a mean, a std or a class
list. Means and stds are per channel in [0, 1] units (pixel / 255).

>>> from neuralab.data import info
>>> info("cifar10").mean, info("cifar10").normalization("tdt4265")
((0.4914, 0.4822, 0.4465), ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)))
>>> info("mnist").shape, info("mnist").num_classes
((1, 28, 28), 10)

This module imports neither torch nor PIL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neuralab.errors import DataError

Norm = tuple[tuple[float, ...], tuple[float, ...]]

# ImageNet's per-channel statistics: what torchvision's pretrained backbones expect.
IMAGENET: Norm = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# Half / quarter: the TDT4265 handout's CIFAR-10 normalisation (mean 0.5, std 0.25).
TDT4265: Norm = ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
# No normalisation: values stay in [0, 1].
NONE_GRAY: Norm = ((0.0,), (1.0,))


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is, without loading it.

    name: the registry name (or the folder for an image folder).
    classes: class names, index = label.
    shape: ``(C, H, W)`` of one input image as the loader returns it (C = 1 gray, 3 RGB).
    normalizations: named per-channel ``(mean, std)`` pairs; ``default`` names the one the
    project uses unless told otherwise (``mean``/``std`` are that one's).
    counts: the expected number of images per split (``{}``: not fixed, e.g. a user folder);
    per_class: the expected number per class and split, for balanced sets (``{}``: not
    balanced or not fixed); required: the splits a complete copy must have.
    note: one line about the data (provenance, how splits are made).
    """

    name: str
    classes: list[str]
    shape: tuple[int, int, int]
    normalizations: dict[str, Norm]
    default: str
    counts: dict[str, int] = field(default_factory=dict)
    per_class: dict[str, int] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if self.default not in self.normalizations:
            raise ValueError(f"{self.name}: default normalisation {self.default!r} is not one "
                             f"of {list(self.normalizations)}")
        for key, (mean, std) in self.normalizations.items():
            if len(mean) != len(std) or len(mean) not in (1, self.shape[0]):
                raise ValueError(f"{self.name}: normalisation {key!r} has {len(mean)} means and "
                                 f"{len(std)} stds for {self.shape[0]} channels")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        return self.shape[0]

    @property
    def mean(self) -> tuple[float, ...]:
        return self.normalizations[self.default][0]

    @property
    def std(self) -> tuple[float, ...]:
        return self.normalizations[self.default][1]

    def normalization(self, name: str | None = None) -> Norm:
        """``(mean, std)`` of the named normalisation (default: :attr:`default`); an unknown
        name is a one-line :class:`DataError` listing the known ones."""
        key = self.default if name is None else name
        if key not in self.normalizations:
            raise DataError(f"unknown normalization {key!r} for {self.name}; use "
                            f"{' or '.join(self.normalizations)}")
        return self.normalizations[key]

    def preprocess(self, normalization: str | None = None, *, size: int | None = None,
                   channels: int | None = None):
        """A :class:`~neuralab.data.preprocess.Preprocess` with this dataset's statistics."""
        from neuralab.data.preprocess import Preprocess

        mean, std = self.normalization(normalization)
        return Preprocess(mean=mean, std=std, size=size, channels=channels)

    def expected_total(self, split: str) -> int | None:
        if split in self.counts:
            return self.counts[split]
        if split in self.per_class:
            return self.per_class[split] * self.num_classes
        return None


def check_complete(data, facts: DatasetInfo, where: object) -> None:
    """Refuse an incomplete or inconsistent copy with ONE line naming ``where`` (its folder).

    ``data`` is a :class:`~neuralab.data.dataset.Dataset`; its class list must be the expected
    one, then :func:`check_counts` runs on its labels.
    """
    import numpy as np

    if list(data.classes) != list(facts.classes):
        raise DataError(f"inconsistent {facts.name} in {where}: classes {list(data.classes)} "
                        f"instead of {facts.classes}")
    if data.splits:
        h, w, c = data.image_shape
        if (c, h, w) != tuple(facts.shape):
            want = "x".join(map(str, facts.shape[1:])) + f"x{facts.shape[0]}"
            raise DataError(f"inconsistent {facts.name} in {where}: images are {h}x{w}x{c}, "
                            f"expected {want} (H x W x C)")
    for name, split in data.splits.items():
        if len(split) and (split.labels.min() < 0 or split.labels.max() >= facts.num_classes):
            raise DataError(f"inconsistent {facts.name} in {where}: {name} labels outside "
                            f"0..{facts.num_classes - 1}")
    check_counts(facts, {name: np.bincount(split.labels, minlength=facts.num_classes)
                         for name, split in data.splits.items()}, where)


def check_counts(facts: DatasetInfo, per_class: dict, where: object) -> None:
    """Check the images per class of each split (``{split: [n_class0, n_class1, ...]}``).

    In order: the required splits are present; each split's size equals
    :attr:`DatasetInfo.counts` (when fixed); every class has at least one image in every split,
    and exactly :attr:`DatasetInfo.per_class` (when balanced). All problems go in ONE line:
    ``incomplete cifar10 in DIR: train has 600 of 50,000 images; ...``.
    """
    missing = [s for s in facts.required if s not in per_class]
    if missing:
        found = ", ".join(per_class) or "none"
        raise DataError(f"incomplete {facts.name} in {where}: no {' or '.join(missing)} split "
                        f"(found: {found})")
    problems = []
    for split_name, counts in per_class.items():
        counts = [int(n) for n in counts]
        total = sum(counts)
        expected = facts.expected_total(split_name)
        if expected is not None and total != expected:
            problems.append(f"{split_name} has {total:,} of {expected:,} images")
        empty = [facts.classes[i] for i, n in enumerate(counts) if n == 0]
        if empty:
            what = "class" if len(empty) == 1 else f"{len(empty)} of {len(counts)} classes:"
            problems.append(f"{split_name} has no image of {what} {_clip(empty)}")
        want = facts.per_class.get(split_name)
        if want is not None:
            off = [f"{facts.classes[i]} {n:,}" for i, n in enumerate(counts) if n not in (0, want)]
            if off:
                problems.append(f"{split_name} classes not at {want:,} images: {_clip(off)}")
    if problems:
        raise DataError(f"incomplete {facts.name} in {where}: {'; '.join(problems)}")


def _clip(items: list[str], keep: int = 6) -> str:
    more = f" and {len(items) - keep} more" if len(items) > keep else ""
    return ", ".join(items[:keep]) + more
