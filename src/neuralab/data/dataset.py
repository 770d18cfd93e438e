"""The three records every loader returns: :class:`Split`, :class:`DataSource`, :class:`Dataset`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuralab.errors import DataError


@dataclass
class Split:
    """One split of a labelled image set.

    images: uint8 ``[N, H, W, C]`` (``C = 1`` for grayscale; always 4-D).
    labels: int64 ``[N]``, indices into :attr:`Dataset.classes`.
    """

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 [N, H, W, C], got {self.images.dtype} "
                             f"{self.images.shape}")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must be [N={len(self.images)}], got {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class DataSource:
    """Where a dataset came from and whether its bytes were checked.

    checksum: ``"md5:<hex>"`` or ``"sha256:<hex>"``. For a source made of several files it is
    the sha256 of their manifest (one ``"<file> <algo>:<hex>"`` line per file, sorted), and
    ``files`` lists the per-file digests. ``verified`` is True only when every file matched a
    published (or documented) checksum. ``note`` says what the data is when it is not the
    official release (a JPEG copy, a derived split, generated or embedded data).
    """

    name: str
    path: str
    format: str
    checksum: str
    verified: bool
    note: str = ""
    files: dict[str, str] = field(default_factory=dict)
    # How splits the data does not ship were made, e.g. for an image folder with train/ only:
    # {"from": "train", "fractions": {"train": .7, "val": .15, "test": .15}, "seed": 0,
    #  "stratified": True, "counts": {"train": 70, "val": 15, "test": 15}}; {} when none were.
    derived: dict = field(default_factory=dict)


class Splits(dict):
    """``{split name: Split}`` whose missing key is a one-line :class:`DataError` naming the
    dataset, where it came from and the splits it has (not a bare ``KeyError``)."""

    def __init__(self, *args, owner: str = "dataset", where: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.owner, self.where = owner, where

    def __missing__(self, key):
        at = f" at {self.where}" if self.where else ""
        raise DataError(f"{self.owner}{at} has no {key!r} split (it has "
                        f"{', '.join(self) or 'none'})")


@dataclass
class Dataset:
    """A named set of splits (``"train"``, ``"val"``, ``"test"``), its class names and source."""

    name: str
    splits: dict[str, Split]
    classes: list[str]
    source: DataSource

    def __post_init__(self) -> None:
        if not isinstance(self.splits, Splits):
            self.splits = Splits(self.splits, owner=self.name, where=self.source.path)

    def counts(self) -> dict[str, int]:
        """Number of images per split, e.g. ``{"train": 50000, "test": 10000}``."""
        return {name: len(split) for name, split in self.splits.items()}

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of the images."""
        first = next(iter(self.splits.values()))
        return tuple(first.images.shape[1:])  # type: ignore[return-value]

    def describe(self) -> str:
        """One line: name, counts, image shape, classes and where it came from."""
        counts = ", ".join(f"{k} {v:,}" for k, v in self.counts().items())
        h, w, c = self.image_shape
        check = "verified" if self.source.verified else "unverified"
        text = (f"{self.name}: {counts}; {h}x{w}x{c} uint8; {len(self.classes)} classes; "
                f"{self.source.format} at {self.source.path} ({check} {self.source.checksum})")
        if self.source.note:
            text += f"; {self.source.note}"
        return text

    def __getitem__(self, split: str) -> Split:
        return self.splits[split]
