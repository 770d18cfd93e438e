"""EMNIST (official ``gzip.zip`` layout) and chars36, its digits + uppercase subset.

Files: ``root/emnist/gzip/emnist-<split>-{train,test}-{images-idx3,labels-idx1}-ubyte[.gz]``
and ``emnist-<split>-mapping.txt`` (``label ascii [ascii]`` per line). The official files store
each image transposed; loaders return them upright, uint8 ``[N, 28, 28, 1]``, white ink on
black. Splits are whichever of train/test are present. In the ``letters`` split labels start at
1 in the files; they are shifted to start at 0 so that ``classes[label]`` holds.

chars36 (stand-in for the hw5 NIST36 set): all ByClass images with labels 0-35 (digits then
A-Z, EMNIST's own order), from every split present, zero-padded 28 -> 32 (2 pixels a side),
then split per class 70/15/15 into train/val/test with ``np.random.default_rng(seed=0)``
(see :func:`neuralab.data.splits.stratified_indices`).
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np

from neuralab.data import splits as splitting
from neuralab.data.cache import cache_key, cached
from neuralab.data.dataset import Dataset, DataSource, Split
from neuralab.data.download import fetch_and_extract
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
    read_bytes,
    read_verified,
    remembered_digests,
)
from neuralab.data.mnist import find_file
from neuralab.data.paths import missing_error
from neuralab.data.status_row import remembered_verified, status_row
from neuralab.errors import DataError

NAME = "emnist"
SPLITS = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
DEFAULT_SPLIT = "byclass"
FOLDERS = ["emnist/gzip", "emnist", "EMNIST/raw"]
URLS = ["https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",
        "https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/gzip.zip"]
ARCHIVE_MD5 = "md5:58c8d27c78d21e728a6bc7b3cc06412e"
# md5 of decompressed idx files known for a documented copy: the ByClass test split rebuilt in
# the official layout from the Kaggle EMNIST CSVs (see the shared data README). A mismatch is
# reported as unverified, not as corruption: the official release publishes only the zip's md5.
KNOWN_MD5 = {
    "emnist-byclass-test-images-idx3-ubyte": "md5:5c0133f95f77ae69d867e4dc268094ed",
    "emnist-byclass-test-labels-idx1-ubyte": "md5:1d0da960e9aa1f2ae43303879cd07bef",
    # EMNIST Letters: decompressed from .gz files with the official release's md5s
    # (train-images 8795078f..., train-labels c16de4f1..., test-images 382093a1...,
    # test-labels d4108920...; see ../shared/data/README.md)
    "emnist-letters-train-images-idx3-ubyte": "md5:6b7a6cdb4e8ae8838780bb5aeda8ab2a",
    "emnist-letters-train-labels-idx1-ubyte": "md5:49ecae16ee4c7ab14dcf3e8d8c39090b",
    "emnist-letters-test-images-idx3-ubyte": "md5:811ee95d607652077616dbaaea581e1d",
    "emnist-letters-test-labels-idx1-ubyte": "md5:dd1687ca8200da91c0dfd6321518806d",
}
FORMAT = "idx"
FIX = "delete it and run `neuralab data download emnist`"

_DIGITS, _UPPER = list(string.digits), list(string.ascii_uppercase)
_MERGED_LOWER = list("abdefghnqrt")
BUILTIN_CLASSES = {
    "byclass": _DIGITS + _UPPER + list(string.ascii_lowercase),
    "bymerge": _DIGITS + _UPPER + _MERGED_LOWER,
    "balanced": _DIGITS + _UPPER + _MERGED_LOWER,
    "letters": [u + u.lower() for u in _UPPER],
    "digits": _DIGITS,
    "mnist": _DIGITS,
}

# Published sizes (Cohen et al. 2017, EMNIST: an extension of MNIST to handwritten letters):
# images per split, and per class for the balanced splits. A split present with another size
# is refused; a split may be absent (the shared copy has only the ByClass test split).
COUNTS = {"byclass": {"train": 697932, "test": 116323},
          "bymerge": {"train": 697932, "test": 116323},
          "balanced": {"train": 112800, "test": 18800},
          "letters": {"train": 124800, "test": 20800},
          "digits": {"train": 240000, "test": 40000},
          "mnist": {"train": 60000, "test": 10000}}
PER_CLASS = {"balanced": {"train": 2400, "test": 400},
             "letters": {"train": 4800, "test": 800},
             "digits": {"train": 24000, "test": 4000}}
# measured here on the EMNIST ByClass test split (28x28) and on chars36's train split (32x32)
NORMALIZATIONS = {"emnist": ((0.1736,), (0.3317,))}
CHARS36_NORMALIZATIONS = {"chars36": ((0.1339,), (0.3004,))}

CHARS36 = "chars36"
CHARS36_CLASSES = list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
CHARS36_FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}
CHARS36_SEED = 0
CHARS36_PAD = 2


def file_names(split: str, part: str) -> tuple[str, str]:
    return (f"emnist-{split}-{part}-images-idx3-ubyte", f"emnist-{split}-{part}-labels-idx1-ubyte")


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise DataError(f"unknown EMNIST split {split!r}; choose one of {', '.join(SPLITS)}")
    return split


def find_pairs(root: Path, split: str) -> tuple[Path, dict[str, tuple[Path, Path]]] | None:
    """The first folder with files of this EMNIST split, and ``{train|test: (images, labels)}``."""
    for folder in (root / f for f in FOLDERS):
        pairs = {}
        for part in ("train", "test"):
            images, labels = (find_file(folder, n) for n in file_names(split, part))
            if (images is None) != (labels is None):
                missing = file_names(split, part)[0 if images is None else 1]
                raise DataError(f"emnist: {folder} has only half of the {split} {part} split "
                                f"({missing}[.gz] is missing); run `neuralab data download "
                                "emnist`")
            if images is not None and labels is not None:
                pairs[part] = (images, labels)
        if pairs:
            return folder, pairs
    return None


def read_mapping(folder: Path, split: str) -> list[str] | None:
    """Class names from ``emnist-<split>-mapping.txt`` (index = label - first label), or None."""
    path = folder / f"emnist-{split}-mapping.txt"
    if not path.exists():
        return None
    try:
        rows = sorted((int(parts[0]), "".join(chr(int(c)) for c in parts[1:]))
                      for parts in (line.split() for line in path.read_text().splitlines())
                      if parts)
    except (OSError, ValueError) as err:
        raise DataError(f"corrupt file {path}: {err}") from None
    return [name for _, name in rows]


def info(split: str = DEFAULT_SPLIT, classes: list[str] | None = None) -> DatasetInfo:
    """EMNIST ``split``'s facts: classes, ``(1, 28, 28)``, published split sizes."""
    split = _check_split(split)
    return DatasetInfo(NAME, list(classes or BUILTIN_CLASSES[split]), (1, 28, 28),
                       dict(NORMALIZATIONS), "emnist", dict(COUNTS.get(split, {})),
                       dict(PER_CLASS.get(split, {})),
                       note=f"EMNIST {split}, upright, white ink on black")


def chars36_info(seed: int = CHARS36_SEED) -> DatasetInfo:
    """chars36's facts: 36 classes (digits then A-Z), ``(1, 32, 32)``, train/val/test."""
    return DatasetInfo(CHARS36, list(CHARS36_CLASSES), (1, 32, 32),
                       dict(CHARS36_NORMALIZATIONS), "chars36",
                       required=tuple(CHARS36_FRACTIONS),
                       note=f"EMNIST ByClass 0-9 + A-Z, 32x32, 70/15/15 split, seed {seed}")


def _remembered(pairs: dict[str, tuple[Path, Path]]) -> str | None:
    """The manifest checksum from remembered digests (no hashing), or None."""
    paths = {p.name.removesuffix(".gz"): p for pair in pairs.values() for p in pair}
    digests = remembered_digests(paths, KNOWN_MD5, decompressed=True)
    return None if digests is None else manifest_digest(digests)


def _read_pair(images_path: Path, labels_path: Path, digests: dict[str, str],
               ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Read (hashing the very bytes, see integrity.read_verified) and parse one pair."""
    raw, ok = {}, True
    for path in (images_path, labels_path):
        base = path.name.removesuffix(".gz")
        raw[path], digests[base], good = read_verified(path, KNOWN_MD5.get(base), strict=False,
                                                       fix=FIX)
        ok = ok and good
    images = parse_idx(raw[images_path], images_path, magic=IMAGES_MAGIC)
    labels = parse_idx(raw[labels_path], labels_path, magic=LABELS_MAGIC)
    images, labels = images_and_labels(images, labels, images_path, labels_path)
    return np.ascontiguousarray(images.transpose(0, 2, 1, 3)), labels, ok  # stored transposed


def _note(split: str, parts: list[str]) -> str:
    only = f" (only the {parts[0]} split is present)" if len(parts) == 1 else ""
    return f"EMNIST {split}{only}; images transposed to upright"


def load(root: Path, split: str = DEFAULT_SPLIT) -> Dataset:
    """EMNIST ``split`` (byclass, bymerge, balanced, letters, digits, mnist): train/test.

    Each split present must have its published size (:data:`COUNTS`) and every class.
    """
    split = _check_split(split)
    found = find_pairs(root, split)
    if found is None:
        raise missing_error(NAME, [root / f for f in FOLDERS], what=f"EMNIST {split} files")
    folder, pairs = found
    remembered = _remembered(pairs)
    key = None if remembered is None else cache_key(NAME, split, remembered)

    def build() -> Dataset:
        digests, verified, data = {}, True, {}
        for part, paths in pairs.items():
            images, labels, ok = _read_pair(*paths, digests)
            data[part] = (images, labels)
            verified = verified and ok
        classes = read_mapping(folder, split) or BUILTIN_CLASSES[split]
        first = 1 if split == "letters" else 0
        splits = {}
        for part, (images, labels) in data.items():
            labels = labels - first
            if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
                raise DataError(f"corrupt file {pairs[part][1]}: labels outside "
                                f"{first}..{len(classes) - 1 + first}")
            splits[part] = Split(images, labels)
        source = DataSource(NAME, str(folder), f"{FORMAT} ({split})", manifest_digest(digests),
                            verified, _note(split, list(pairs)), digests)
        dataset = Dataset(NAME, splits, list(classes), source)
        check_complete(dataset, info(split, classes), folder)
        return dataset

    return cached(NAME, key, build,
                  rekey=lambda data: cache_key(NAME, split, data.source.checksum))


def _chars36_key(checksum: str, seed: int) -> str:
    return cache_key(CHARS36, checksum, CHARS36_FRACTIONS, seed, CHARS36_PAD)


def load_chars36(root: Path, seed: int = CHARS36_SEED) -> Dataset:
    """chars36: EMNIST ByClass 0-9 + A-Z, upright, 32x32 (see the module doc), train/val/test.

    Its checksum and ``verified`` are those of the EMNIST ByClass arrays it is cut from.
    """
    found = find_pairs(root, "byclass")
    if found is None:
        raise missing_error(NAME, [root / f for f in FOLDERS],
                            what=f"{CHARS36} needs EMNIST byclass, which is")
    folder, pairs = found
    remembered = _remembered(pairs)
    key = None if remembered is None else _chars36_key(remembered, int(seed))

    def build() -> Dataset:
        emnist = load(root, "byclass")
        parts = list(emnist.splits)
        images = np.concatenate([emnist.splits[p].images for p in parts])
        labels = np.concatenate([emnist.splits[p].labels for p in parts])
        keep = labels < len(CHARS36_CLASSES)
        pad = CHARS36_PAD
        images = np.pad(images[keep], ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        splits = splitting.split_arrays(images, labels[keep], CHARS36_FRACTIONS, int(seed))
        note = (f"chars36: EMNIST ByClass {'+'.join(parts)} digits and uppercase (labels 0-35), "
                f"upright, white on black, zero-padded to 32x32, stratified 70/15/15 split with "
                f"seed {seed}; a stand-in for NIST36")
        src = emnist.source
        source = DataSource(CHARS36, str(folder), f"{FORMAT} (byclass)", src.checksum,
                            src.verified, note, dict(src.files))
        data = Dataset(CHARS36, splits, list(CHARS36_CLASSES), source)
        check_complete(data, chars36_info(int(seed)), folder)
        return data

    return cached(CHARS36, key, build,
                  rekey=lambda data: _chars36_key(data.source.checksum, int(seed)))


def probe(root: Path) -> dict:
    """Status of the first EMNIST split present (byclass first)."""
    for split in SPLITS:
        found = find_pairs(root, split)
        if found is not None:
            folder, pairs = found
            counts = {p: read_idx_count(labels) or 0 for p, (_, labels) in pairs.items()}
            files = {p: KNOWN_MD5.get(p.name.removesuffix(".gz")) for pair in pairs.values()
                     for p in pair}
            return status_row(NAME, folder, f"{FORMAT} ({split})", counts=counts,
                              verified=remembered_verified(files, decompressed=True),
                              note=_note(split, list(pairs)))
    return status_row(NAME)


def probe_chars36(root: Path) -> dict:
    """Status of chars36: split sizes from the ByClass label files alone (no images read)."""
    found = find_pairs(root, "byclass")
    if found is None:
        return status_row(CHARS36)
    folder, pairs = found
    files = {p: KNOWN_MD5.get(p.name.removesuffix(".gz")) for pair in pairs.values() for p in pair}
    labels = np.concatenate([
        parse_idx(read_bytes(lab, fix=FIX), lab, magic=LABELS_MAGIC).astype(np.int64)
        for _, lab in pairs.values()])
    labels = labels[labels < len(CHARS36_CLASSES)]
    index = splitting.stratified_indices(labels, CHARS36_FRACTIONS, CHARS36_SEED)
    return status_row(CHARS36, folder, f"{FORMAT} (byclass)",
                      verified=remembered_verified(files, decompressed=True),
                      counts={name: len(idx) for name, idx in index.items()},
                      note="EMNIST ByClass digits + uppercase, 32x32, split 70/15/15")


def download(root: Path) -> Path:
    """Fetch the official ``gzip.zip`` (md5-checked, ~560 MB) and extract it to ``root/emnist``."""
    dest = root / "emnist" / "gzip"
    if dest.exists():
        return dest
    return fetch_and_extract(URLS, dest, ARCHIVE_MD5)
