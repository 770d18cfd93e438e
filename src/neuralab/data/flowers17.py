"""Oxford Flowers-17: ``root/flowers17/jpg/image_0001.jpg ... image_1360.jpg``.

80 images per class in index order (images 1-80 are class 0, Daffodil; ...; 1281-1360 Pansy).
Each image is resized so its shorter side is ``size`` (default 224) and centre-cropped to
``size x size``: uint8 ``[N, size, size, 3]``. Splits train/val/test come from the official
``root/flowers17/datasplits.mat`` (``trn1/val1/tst1``; ``split_id`` picks 1-3) when present,
else from a deterministic stratified split with the official sizes, 40/20/20 images per class
(fractions 0.5/0.25/0.25, ``np.random.default_rng(seed=0)``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from neuralab.data import splits as splitting
from neuralab.data.cache import cache_key, cached
from neuralab.data.dataset import Dataset, DataSource, Split
from neuralab.data.download import fetch, fetch_and_extract
from neuralab.data.facts import IMAGENET, DatasetInfo
from neuralab.data.images import decode_files, fingerprint, list_images
from neuralab.data.integrity import verify_file
from neuralab.data.paths import missing_error
from neuralab.data.status_row import status_row
from neuralab.errors import DataError

NAME = "flowers17"
CLASSES = ["Daffodil", "Snowdrop", "LilyValley", "Bluebell", "Crocus", "Iris", "Tigerlily",
           "Tulip", "Fritillary", "Sunflower", "Daisy", "ColtsFoot", "Dandelion", "Cowslip",
           "Buttercup", "Windflower", "Pansy"]
PER_CLASS = 80
COUNT = PER_CLASS * len(CLASSES)
DEFAULT_SIZE = 224
FRACTIONS = {"train": 0.5, "val": 0.25, "test": 0.25}  # 40/20/20 per class, as the official
SEED = 0
BASE_URL = "https://www.robots.ox.ac.uk/~vgg/data/flowers/17/"
ARCHIVE_MD5 = "md5:b59a65d8d1a99cd66944d474e1289eab"
DATASPLITS_MD5 = "md5:4828cddfd0d803c5abbdebcb1e148a1e"
FORMAT = "image files (jpg)"
_NAME_RE = re.compile(r"image_(\d{4})\.jpg$")


def info(size: int = DEFAULT_SIZE) -> DatasetInfo:
    """Flowers-17's facts at ``size`` px: 17 classes, 40/20/20 images per class and split,
    ImageNet normalisation (what the pretrained backbones use on it)."""
    size = int(size)
    return DatasetInfo(NAME, list(CLASSES), (3, size, size), {"imagenet": IMAGENET}, "imagenet",
                       per_class={k: round(v * PER_CLASS) for k, v in FRACTIONS.items()},
                       required=tuple(FRACTIONS),
                       note="Oxford Flowers-17, 80 images per class, split 40/20/20 per class")


def folder(root: Path) -> Path:
    return root / NAME


def image_files(root: Path):
    """The 1,360 ``image_NNNN.jpg`` files in index order, or a one-line DataError."""
    jpg = folder(root) / "jpg"
    if not jpg.is_dir():
        raise missing_error(NAME, [jpg / "image_0001.jpg ... image_1360.jpg"])
    files = [f for f in list_images(jpg) if _NAME_RE.match(f.rel)]
    numbers = [int(_NAME_RE.match(f.rel).group(1)) for f in files]
    if numbers != list(range(1, COUNT + 1)):
        missing = sorted(set(range(1, COUNT + 1)) - set(numbers))
        raise DataError(f"incomplete Flowers-17 in {jpg}: {len(numbers)} of {COUNT} images "
                        f"(first missing: image_{missing[0]:04d}.jpg); run "
                        f"`neuralab data download {NAME}`" if missing else
                        f"unexpected files in {jpg}: expected image_0001.jpg ... "
                        f"image_{COUNT:04d}.jpg")
    return jpg, files


def labels() -> np.ndarray:
    """int64 ``[1360]``: image ``i`` (1-based) has label ``(i - 1) // 80``."""
    return np.arange(COUNT, dtype=np.int64) // PER_CLASS


def split_indices(root: Path, split_id: int, seed: int) -> tuple[dict[str, np.ndarray], str, str]:
    """0-based image indices per split, a description of the scheme and its checksum part."""
    mat = folder(root) / "datasplits.mat"
    if mat.exists():
        import scipy.io

        digest, ok = verify_file(mat, DATASPLITS_MD5, strict=False)
        try:
            table = scipy.io.loadmat(mat)
            index = {name: np.sort(np.asarray(table[f"{key}{split_id}"]).ravel().astype(np.int64)
                                   - 1)
                     for name, key in (("train", "trn"), ("val", "val"), ("test", "tst"))}
        except (OSError, ValueError, KeyError) as err:
            raise DataError(f"corrupt file {mat}: {err}") from None
        if any(i.min(initial=0) < 0 or i.max(initial=0) >= COUNT for i in index.values()):
            raise DataError(f"corrupt file {mat}: image indices outside 1..{COUNT}")
        check = "" if ok else " (md5 unverified)"
        return index, f"official datasplits.mat split {split_id}{check}", digest
    index = splitting.stratified_indices(labels(), FRACTIONS, seed)
    return index, f"stratified 40/20/20 per class, seed {seed}", f"seed={seed}"


def load(root: Path, size: int = DEFAULT_SIZE, split_id: int = 1, seed: int = SEED) -> Dataset:
    """Flowers-17 train/val/test at ``size x size`` (decoded once, then cached)."""
    size, split_id, seed = int(size), int(split_id), int(seed)
    if size < 8 or split_id not in (1, 2, 3):
        raise DataError(f"flowers17: size must be >= 8 and split_id 1, 2 or 3 (got {size}, "
                        f"{split_id})")
    jpg, files = image_files(root)
    index, scheme, scheme_id = split_indices(root, split_id, seed)
    key = cache_key(NAME, jpg.resolve(), fingerprint(files), size, scheme_id)

    def build() -> Dataset:
        images, checksum = decode_files(jpg, files, mode="RGB", size=size, desc=NAME)
        y = labels()
        splits = {name: Split(images[idx], y[idx]) for name, idx in index.items()}
        note = (f"Oxford Flowers-17 JPEGs, shorter side resized to {size} and centre-cropped; "
                f"split: {scheme}; no published checksum for the images")
        source = DataSource(NAME, str(jpg), FORMAT, checksum, False, note)
        return Dataset(NAME, splits, list(CLASSES), source)

    return cached(NAME, key, build)


def probe(root: Path) -> dict:
    try:
        jpg, _ = image_files(root)
        index, scheme, _ = split_indices(root, 1, SEED)
    except DataError as err:
        if not (folder(root) / "jpg").is_dir():
            return status_row(NAME)
        return status_row(NAME, folder(root) / "jpg", FORMAT, verified=False, note=str(err))
    return status_row(NAME, jpg, FORMAT, verified=False,
                      counts={k: len(v) for k, v in index.items()}, note=f"split: {scheme}")


def download(root: Path) -> Path:
    """Fetch ``17flowers.tgz`` and ``datasplits.mat`` (md5-checked) into ``root/flowers17/``."""
    jpg = folder(root) / "jpg"
    if not jpg.exists():
        fetch_and_extract([BASE_URL + "17flowers.tgz"], jpg, ARCHIVE_MD5)
    mat = folder(root) / "datasplits.mat"
    if not mat.exists():
        fetch([BASE_URL + "datasplits.mat"], mat, DATASPLITS_MD5)
    return folder(root)
