"""Generic image-folder datasets: ``root/<split>/<class>/*.png|jpg``.

Labels index the sorted class folder names (or a given class order, e.g. CIFAR-10's official
one). Decoded arrays are cached once; the cache entry is found through a cheap fingerprint of
relative paths, sizes and mtimes, and it stores the real content checksum (sha256 of every
file's path and bytes) computed while decoding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuralab.data.cache import cache_key, cached
from neuralab.data.dataset import Dataset, DataSource, Split
from neuralab.data.images import ImageFile, decode_files, fingerprint, image_mode, scan_tree
from neuralab.data.integrity import manifest_digest
from neuralab.errors import DataError

SPLIT_ORDER = ("train", "val", "valid", "test")


def _ordered(splits: list[str]) -> list[str]:
    known = [s for s in SPLIT_ORDER if s in splits]
    return known + sorted(s for s in splits if s not in known)


def folder_format(files: list[ImageFile]) -> str:
    """``"image-folder (jpg)"``, ``"image-folder (png)"`` or ``"image-folder (jpg+png)"``."""
    kinds = sorted({"jpg" if f.rel.lower().endswith((".jpg", ".jpeg")) else "png" for f in files})
    return f"image-folder ({'+'.join(kinds)})"


class ImageTree:
    """A scanned ``root/split/class/*`` tree: what is there, without decoding anything."""

    def __init__(self, root: Path, classes: list[str] | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"image folder {self.root} does not exist; pass path=DIR with "
                            "DIR/<split>/<class>/*.png|jpg")
        tree = scan_tree(self.root)
        tree = {s: c for s, c in tree.items() if any(c.values())}
        if not tree:
            raise DataError(f"no images in {self.root}: expected "
                            f"{self.root}/<split>/<class>/*.png|jpg (e.g. train/cat/0001.png)")
        found = sorted({c for per_class in tree.values() for c in per_class})
        if classes is not None:
            unknown = [c for c in found if c not in classes]
            if unknown:
                raise DataError(f"unexpected class folders under {self.root}: "
                                f"{', '.join(unknown)} (expected {', '.join(classes)})")
        self.classes = list(classes) if classes is not None else found
        self.splits = _ordered(list(tree))
        self.tree = tree

    def files(self, split: str) -> tuple[list[ImageFile], np.ndarray]:
        """The split's files (class by class) and their int64 labels."""
        files, labels = [], []
        for label, cls in enumerate(self.classes):
            members = self.tree[split].get(cls, [])
            files += members
            labels += [label] * len(members)
        return files, np.asarray(labels, dtype=np.int64)

    def all_files(self) -> list[ImageFile]:
        return [f for s in self.splits for f in self.files(s)[0]]

    def counts(self) -> dict[str, int]:
        return {s: len(self.files(s)[0]) for s in self.splits}

    def key(self, name: str, *options: object) -> str:
        return cache_key(name, "image-folder", self.root.resolve(), self.classes,
                         fingerprint(self.all_files()), *options)

    def load(self, name: str, *, note: str = "", size: int | None = None) -> Dataset:
        """Decode every split (cached): uint8 ``[N, H, W, C]``, C = 1 for grayscale trees."""

        def build() -> Dataset:
            everything = self.all_files()
            mode = image_mode(self.root / everything[0].rel)
            splits, digests = {}, {}
            for split in self.splits:
                files, labels = self.files(split)
                images, digests[split] = decode_files(self.root, files, mode=mode, size=size,
                                                      desc=f"{name} {split}")
                splits[split] = Split(images, labels)
            checksum = digests[self.splits[0]] if len(digests) == 1 else _combine(digests)
            source = DataSource(name=name, path=str(self.root), format=folder_format(everything),
                                checksum=checksum, verified=False, note=note,
                                files={f"{s}/": d for s, d in digests.items()})
            return Dataset(name, splits, list(self.classes), source)

        return cached(name, self.key(name, size), build)


def _combine(digests: dict[str, str]) -> str:
    return manifest_digest({f"{split}/": d for split, d in digests.items()})


def load(root: Path, path: str | Path | None = None, size: int | None = None) -> Dataset:
    """``load("image-folder", path=DIR)``: any ``DIR/<split>/<class>/*.png|jpg`` tree.

    ``size`` (optional) resizes the shorter side and centre-crops each image to a square.
    """
    if path is None:
        raise DataError("image-folder needs path=DIR (a folder with <split>/<class>/*.png|jpg)")
    folder = Path(path).expanduser()
    if not folder.is_absolute() and not folder.exists() and (Path(root) / folder).exists():
        folder = Path(root) / folder
    tree = ImageTree(folder)
    return tree.load("image-folder", size=None if size is None else int(size),
                     note=f"images from the folder tree {folder}")
