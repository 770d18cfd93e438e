"""MNIST and Fashion-MNIST: the four official IDX files, gzipped or not.

Integrity is checked on the *decompressed* bytes (md5 of the idx content), so a re-gzipped copy
(Debian's Fashion-MNIST, the shared MNIST train images) verifies like the original. Every file
is also parsed strictly (magic number, dimensions against the file size). Images come out as
uint8 ``[N, 28, 28, 1]``, labels int64 ``[N]``; splits are whichever of train/test are present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from neuralab.data.cache import cache_key, cached
from neuralab.data.dataset import Dataset, DataSource, Split
from neuralab.data.download import fetch
from neuralab.data.facts import DatasetInfo, check_complete
from neuralab.data.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    images_and_labels,
    parse_idx,
    read_idx_count,
)
from neuralab.data.integrity import (
    manifest_digest,
    read_verified,
    remembered_digests,
    verify_file,
)
from neuralab.data.paths import missing_error
from neuralab.data.status_row import remembered_verified, status_row
from neuralab.errors import DataError

FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
FORMAT = "idx"


@dataclass
class IdxSpec:
    """Where an MNIST-format dataset lives, its checksums and its mirrors."""

    name: str
    folders: list[str]                       # relative to the data root, in order
    classes: list[str]
    md5: dict[str, str]                      # md5 of each *decompressed* idx file
    mirrors: list[str]                       # base URLs, tried in order
    normalizations: dict = field(default_factory=dict)  # name -> (mean, std), first = default
    counts: dict[str, int] = field(default_factory=dict)     # images per split
    per_class: dict[str, int] = field(default_factory=dict)  # per class and split, if balanced
    extra_folders: list[Path] = field(default_factory=list)  # absolute, after the root's

    def info(self) -> DatasetInfo:
        """The dataset's facts (see :func:`neuralab.data.info`)."""
        return DatasetInfo(self.name, list(self.classes), (1, 28, 28), dict(self.normalizations),
                           next(iter(self.normalizations)), dict(self.counts),
                           dict(self.per_class), required=tuple(FILES))

    def candidates(self, root: Path) -> list[Path]:
        return [root / f for f in self.folders] + list(self.extra_folders)

    @property
    def fix(self) -> str:
        return f"delete it and run `neuralab data download {self.name}`"


MNIST = IdxSpec(
    name="mnist",
    folders=["mnist", "MNIST/raw"],
    classes=[str(d) for d in range(10)],
    md5={"train-images-idx3-ubyte": "md5:6bbc9ace898e44ae57da46a324031adb",
         "train-labels-idx1-ubyte": "md5:a25bea736e30d166cdddb491f175f624",
         "t10k-images-idx3-ubyte": "md5:2646ac647ad5339dbf082846283269ea",
         "t10k-labels-idx1-ubyte": "md5:27ae3e4e09519cfbb04c329615203637"},
    mirrors=["https://ossci-datasets.s3.amazonaws.com/mnist/",
             "http://yann.lecun.com/exdb/mnist/"],
    normalizations={"mnist": ((0.1307,), (0.3081,))},
    counts={"train": 60000, "test": 10000},
)

FASHION_MNIST = IdxSpec(
    name="fashion-mnist",
    folders=["fashion-mnist", "FashionMNIST/raw"],
    classes=["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    # Decompressed md5s; the label values were checked here against the official .gz files
    # (md5 25c81989..., bb300cfd...) of zalandoresearch/fashion-mnist.
    md5={"train-images-idx3-ubyte": "md5:f4a8712d7a061bf5bd6d2ca38dc4d50a",
         "train-labels-idx1-ubyte": "md5:9018921c3c673c538a1fc5bad174d6f9",
         "t10k-images-idx3-ubyte": "md5:8181f5470baa50b63fa0f6fddb340f0a",
         "t10k-labels-idx1-ubyte": "md5:15d484375f8d13e6eb1aabb0c3f46965"},
    mirrors=["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
             "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"],
    normalizations={"fashion-mnist": ((0.2860,), (0.3530,))},
    counts={"train": 60000, "test": 10000},
    per_class={"train": 6000, "test": 1000},
    extra_folders=[Path("/usr/share/datasets/fashion-mnist")],  # Debian: dataset-fashion-mnist
)


def find_file(folder: Path, base: str) -> Path | None:
    """``folder/base.gz`` or ``folder/base``, whichever exists (gz first)."""
    for path in (folder / f"{base}.gz", folder / base):
        if path.is_file():
            return path
    return None


def find_pairs(spec: IdxSpec, root: Path) -> tuple[Path, dict[str, tuple[Path, Path]]] | None:
    """The first folder holding any of the files, and its ``{split: (images, labels)}``."""
    for folder in spec.candidates(root):
        found = {s: (find_file(folder, i), find_file(folder, l)) for s, (i, l) in FILES.items()}
        if not any(p for pair in found.values() for p in pair):
            continue
        pairs = {}
        for split, (images, labels) in found.items():
            if (images is None) != (labels is None):
                base = FILES[split][0] if images is None else FILES[split][1]
                raise DataError(f"{spec.name}: {folder} has only half of the {split} split "
                                f"({base}[.gz] is missing); run "
                                f"`neuralab data download {spec.name}`")
            if images is not None and labels is not None:
                pairs[split] = (images, labels)
        return folder, pairs
    return None


def _base(path: Path) -> str:
    return path.name[:-3] if path.suffix == ".gz" else path.name


def load_spec(spec: IdxSpec, root: Path) -> Dataset:
    """Load an MNIST-format dataset: verify the decompressed md5s, parse, check, cache.

    Both splits must be there and have the documented sizes. A cache entry is looked up by
    the remembered digests; building one re-hashes the bytes it parses (see cache).
    """
    found = find_pairs(spec, root)
    if found is None:
        raise missing_error(spec.name, spec.candidates(root))
    folder, pairs = found
    for split, names in FILES.items():
        if split not in pairs:
            raise DataError(f"incomplete {spec.name} in {folder}: no {split} split "
                            f"({names[0]}[.gz] and {names[1]}[.gz] are missing); run "
                            f"`neuralab data download {spec.name}`")
    paths = {_base(p): p for pair in pairs.values() for p in pair}
    remembered = remembered_digests(paths, spec.md5, decompressed=True)
    key = None if remembered is None else cache_key(spec.name, FORMAT, manifest_digest(remembered))

    def build() -> Dataset:
        splits, digests, verified = {}, {}, True
        for split, (images_path, labels_path) in pairs.items():
            raw = {}
            for path in (images_path, labels_path):
                raw[path], digests[_base(path)], ok = read_verified(
                    path, spec.md5.get(_base(path)), fix=spec.fix)
                verified = verified and ok
            images = parse_idx(raw[images_path], images_path, magic=IMAGES_MAGIC)
            labels = parse_idx(raw[labels_path], labels_path, magic=LABELS_MAGIC)
            splits[split] = Split(*images_and_labels(images, labels, images_path, labels_path))
        note = "" if verified else "no published checksum for some files"
        source = DataSource(spec.name, str(folder), FORMAT, manifest_digest(digests), verified,
                            note, digests)
        data = Dataset(spec.name, splits, list(spec.classes), source)
        check_complete(data, spec.info(), folder)
        return data

    return cached(spec.name, key, build,
                  rekey=lambda data: cache_key(spec.name, FORMAT, data.source.checksum))


def probe_spec(spec: IdxSpec, root: Path) -> dict:
    found = find_pairs(spec, root)
    if found is None:
        return status_row(spec.name)
    folder, pairs = found
    counts = {s: read_idx_count(labels) or 0 for s, (_, labels) in pairs.items()}
    files = {p: spec.md5.get(_base(p)) for pair in pairs.values() for p in pair}
    return status_row(spec.name, folder, FORMAT, counts=counts,
                      verified=remembered_verified(files, decompressed=True))


def download_spec(spec: IdxSpec, root: Path) -> Path:
    """Fetch the four ``.gz`` files into ``root/<name>/`` (mirrors in order, md5-checked)."""
    folder = root / spec.folders[0]
    for base in (b for pair in FILES.values() for b in pair):
        existing = find_file(folder, base)
        if existing is not None:
            verify_file(existing, spec.md5[base], decompressed=existing.suffix == ".gz",
                        fix=spec.fix)
            continue
        fetch([m + f"{base}.gz" for m in spec.mirrors], folder / f"{base}.gz", spec.md5[base],
              decompressed=True)
    return folder


def load_mnist(root: Path) -> Dataset:
    return load_spec(MNIST, root)


def load_fashion_mnist(root: Path) -> Dataset:
    return load_spec(FASHION_MNIST, root)
