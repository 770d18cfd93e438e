"""CIFAR-10: the official python batches, or an image-folder copy (``train|test/<class>/*``).

Looked for, in order: ``root/cifar10/cifar-10-batches-py/``, ``root/cifar-10-batches-py/``
(where torchvision puts it), ``root`` itself (the UvA handout's ``--data_dir`` names the batches
folder), then the folders ``root/cifar10/{train,test}/<class>/*.jpg|png``.
Batches are md5-checked file by file (the values torchvision lists); an image-folder copy has
no published checksum, so its source says so (a JPEG copy is a lossy re-encoding).
Train 50,000 and test 10,000 images, uint8 ``[N, 32, 32, 3]``, classes in the official order.
A copy with a missing split, a missing or short class or another image count is refused in
one line (:data:`INFO` holds the expected counts: 5,000 / 1,000 per class).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from neuralab.data.cache import cache_key, cached
from neuralab.data.dataset import Dataset, DataSource, Split
from neuralab.data.download import fetch_and_extract
from neuralab.data.facts import IMAGENET, TDT4265, DatasetInfo, check_complete
from neuralab.data.image_folder import ImageTree, folder_format
from neuralab.data.integrity import (
    manifest_digest,
    read_verified,
    remembered_digests,
    verify_file,
)
from neuralab.data.paths import missing_error
from neuralab.data.status_row import remembered_verified, status_row
from neuralab.errors import DataError

NAME = "cifar10"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck"]
BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCHES = ["test_batch"]
MD5 = {  # per file, as torchvision lists them
    "data_batch_1": "md5:c99cafc152244af753f735de768cd75f",
    "data_batch_2": "md5:d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "md5:54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "md5:634d18415352ddfa80567beed471001a",
    "data_batch_5": "md5:482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "md5:40351d587109b95175f43aff81a1287e",
    "batches.meta": "md5:5ff9c542aee3614f3951f8cda6e48888",
}
URLS = ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
ARCHIVE_MD5 = "md5:c58f30108f718f92721af3b95e74349a"
FORMAT = "cifar10-python"
FIX = f"delete it and run `neuralab data download {NAME}`"
INFO = DatasetInfo(
    NAME, list(CLASSES), (3, 32, 32),
    {"cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),  # genuine train set
     "tdt4265": TDT4265, "imagenet": IMAGENET}, "cifar10",
    per_class={"train": 5000, "test": 1000}, required=("train", "test"),
    note="CIFAR-10: official python batches, or an image-folder copy (train/test/<class>/)")


def batch_candidates(root: Path) -> list[Path]:
    return [root / NAME / BATCH_DIR, root / BATCH_DIR, root]


def find(root: Path) -> tuple[str, Path] | None:
    """``("batches", dir)`` or ``("folders", dir)`` for the first layout present, else None."""
    for folder in batch_candidates(root):
        if (folder / "batches.meta").exists() or (folder / "test_batch").exists():
            return "batches", folder
    folder = root / NAME
    if (folder / "train").is_dir() or (folder / "test").is_dir():
        return "folders", folder
    return None


def looked_in(root: Path) -> list[Path]:
    return [*batch_candidates(root), root / NAME / "{train,test}"]


def _unpickle(path: Path, blob: bytes | None = None) -> dict:
    try:
        if blob is not None:
            raw = pickle.loads(blob, encoding="latin1")
        else:
            with open(path, "rb") as f:
                raw = pickle.load(f, encoding="latin1")
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, AttributeError,
            ImportError, IndexError, TypeError) as err:
        raise DataError(f"corrupt file {path}: cannot unpickle it ({err}); {FIX}") from None
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}


def _read_batch(path: Path, blob: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A batch file (or its bytes) -> uint8 ``[N, 32, 32, 3]`` images and int64 ``[N]`` labels."""
    batch = _unpickle(path, blob)
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
        images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
    except (KeyError, ValueError) as err:
        raise DataError(f"corrupt file {path}: not a CIFAR-10 batch ({err}); {FIX}") from None
    if len(labels) != len(images) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise DataError(f"corrupt file {path}: bad labels; {FIX}")
    return np.ascontiguousarray(images), labels


def _batch_files(folder: Path) -> dict[str, list[str]]:
    """Both splits' batch files; a missing one is a one-line error naming every missing file."""
    splits = {"train": TRAIN_BATCHES, "test": TEST_BATCHES}
    missing = [n for names in splits.values() for n in names if not (folder / n).exists()]
    if missing:
        raise DataError(f"incomplete CIFAR-10 batches in {folder}: missing "
                        f"{', '.join(missing)}; run `neuralab data download {NAME}`")
    return splits


def verify_batches(folder: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The splits present and each file's md5 (checked against :data:`MD5`, remembered)."""
    present = _batch_files(folder)
    names = [n for names in present.values() for n in names]
    if (folder / "batches.meta").exists():
        names.append("batches.meta")
    return present, {n: verify_file(folder / n, MD5[n], fix=FIX)[0] for n in names}


def load_batches(folder: Path) -> Dataset:
    """The official python batches in ``folder``, each file md5-checked.

    The cache entry is looked up by the remembered md5s; building it re-hashes the bytes it
    unpickles (a file changed behind its size and mtime is caught then).
    """
    present = _batch_files(folder)
    names = [n for batch_names in present.values() for n in batch_names]
    if (folder / "batches.meta").exists():
        names.append("batches.meta")
    remembered = remembered_digests({n: folder / n for n in names}, MD5)
    key = None if remembered is None else cache_key(NAME, FORMAT, manifest_digest(remembered))

    def build() -> Dataset:
        digests, blobs = {}, {}
        for n in names:
            blobs[n], digests[n], _ = read_verified(folder / n, MD5[n], fix=FIX)
        splits = {}
        for split, batch_names in present.items():
            parts = [_read_batch(folder / n, blobs[n]) for n in batch_names]
            splits[split] = Split(np.concatenate([p[0] for p in parts]),
                                  np.concatenate([p[1] for p in parts]))
        if "batches.meta" in digests:
            names_ = _unpickle(folder / "batches.meta", blobs["batches.meta"]).get(
                "label_names") or CLASSES
            names_ = [n.decode() if isinstance(n, bytes) else n for n in names_]
            if names_ != CLASSES:
                raise DataError(f"corrupt file {folder / 'batches.meta'}: unexpected label names")
        source = DataSource(NAME, str(folder), FORMAT, manifest_digest(digests), verified=True,
                            files=digests)
        data = Dataset(NAME, splits, list(CLASSES), source)
        check_complete(data, INFO, folder)
        return data

    return cached(NAME, key, build,
                  rekey=lambda data: cache_key(NAME, FORMAT, data.source.checksum))


def folder_note(tree: ImageTree) -> str:
    files = tree.all_files()
    if any(f.rel.lower().endswith((".jpg", ".jpeg")) for f in files):
        return "CIFAR-10 (JPEG copy): lossy JPEG re-encoding, not the official batches"
    return "CIFAR-10 (image-folder copy): not the official batches, no published checksum"


def load(root: Path) -> Dataset:
    """Train/test CIFAR-10 from the first layout found under ``root`` (see module doc)."""
    found = find(root)
    if found is None:
        raise missing_error(NAME, looked_in(root))
    kind, folder = found
    if kind == "batches":
        return load_batches(folder)
    tree = ImageTree(folder, classes=CLASSES)
    return tree.load(NAME, note=folder_note(tree), mode="RGB", facts=INFO)


def probe(root: Path) -> dict:
    found = find(root)
    if found is None:
        return status_row(NAME)
    kind, folder = found
    if kind == "batches":
        present = _batch_files(folder)
        counts = {s: 10000 * len(names) for s, names in present.items()}
        files = {folder / n: MD5[n] for names in present.values() for n in names}
        return status_row(NAME, folder, FORMAT, verified=remembered_verified(files), counts=counts)
    tree = ImageTree(folder, classes=CLASSES)
    return status_row(NAME, folder, folder_format(tree.all_files()), verified=False,
                      counts=tree.counts(), note=folder_note(tree))


def download(root: Path) -> Path:
    """Fetch the official tar.gz (md5-checked) and extract it to ``root/cifar10/``."""
    dest = root / NAME / BATCH_DIR
    if dest.exists():
        verify_batches(dest)
        return dest
    return fetch_and_extract(URLS, dest, ARCHIVE_MD5)
