"""NIST36: the 16-720 (CMU) hw5 ``nist36_{train,valid,test}.mat`` files.

Each file holds ``<part>_data``, float ``[N, 1024]`` in [0, 1] (a 32x32 image flattened after a
transpose: the hw5 code views one with ``x.reshape(32, 32).T``), and ``<part>_labels``, one-hot
``[N, 36]``. Classes are in the files' order: A-Z then 0-9. Images come out upright as uint8
``[N, 32, 32, 1]`` with the files' polarity kept: dark ink on a white background (255 = paper),
the opposite of EMNIST/chars36. Splits: train, val (from ``valid``), test. There is no published
checksum: the source records each file's sha256, unverified.
"""

from __future__ import annotations

import io
import string
from pathlib import Path

import numpy as np

from neuralab.data.cache import cache_key, cached
from neuralab.data.dataset import Dataset, DataSource, Split
from neuralab.data.download import fetch_and_extract
from neuralab.data.facts import NONE_GRAY, DatasetInfo, check_complete
from neuralab.data.integrity import manifest_digest, read_verified, remembered_digests
from neuralab.data.paths import missing_error
from neuralab.data.status_row import status_row
from neuralab.errors import DataError

NAME = "nist36"
CLASSES = list(string.ascii_uppercase) + list(string.digits)
PARTS = {"train": "train", "val": "valid", "test": "test"}  # our split -> the files' name
URLS = ["http://www.cs.cmu.edu/afs/cs/user/lkeselma/www/16720a_data/data.zip"]
FORMAT = "mat (hw5)"
NOTE = ("NIST36 (16-720 hw5 .mat): upright (the files store images transposed), dark ink on "
        "white as in the files; classes A-Z then 0-9; no published checksum")


# No published sizes are checked (none documented here): every split must be there and hold
# every class. The files' values are used as they are, in [0, 1]: normalisation "none".
INFO = DatasetInfo(NAME, list(CLASSES), (1, 32, 32), {"none": NONE_GRAY}, "none",
                   required=tuple(PARTS), note=NOTE)


def folder(root: Path) -> Path:
    return root / NAME


def mat_path(root: Path, part: str) -> Path:
    return folder(root) / f"nist36_{part}.mat"


def present(root: Path) -> dict[str, Path]:
    return {split: mat_path(root, part) for split, part in PARTS.items()
            if mat_path(root, part).exists()}


def _read(path: Path, part: str, blob: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    import scipy.io

    try:
        mat = scipy.io.loadmat(io.BytesIO(blob) if blob is not None else path,
                               variable_names=[f"{part}_data", f"{part}_labels"])
        data, onehot = mat[f"{part}_data"], mat[f"{part}_labels"]
    except (OSError, ValueError, KeyError, TypeError, NotImplementedError) as err:
        raise DataError(f"corrupt file {path}: cannot read {part}_data/{part}_labels "
                        f"({err})") from None
    if data.ndim != 2 or data.shape[1] != 1024 or onehot.shape != (len(data), len(CLASSES)):
        raise DataError(f"corrupt file {path}: expected {part}_data [N, 1024] and "
                        f"{part}_labels [N, 36], got {list(data.shape)} and {list(onehot.shape)}")
    images = np.clip(np.rint(np.asarray(data, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
    images = images.reshape(-1, 32, 32).transpose(0, 2, 1)[..., None]
    return np.ascontiguousarray(images), np.argmax(onehot, axis=1).astype(np.int64)


def load(root: Path) -> Dataset:
    """NIST36 train/val/test from ``root/nist36/nist36_{train,valid,test}.mat`` (all three)."""
    files = present(root)
    if not files:
        raise missing_error(NAME, [folder(root) / "nist36_{train,valid,test}.mat"])
    missing = [mat_path(root, PARTS[s]).name for s in PARTS if s not in files]
    if missing:
        raise DataError(f"incomplete {NAME} in {folder(root)}: {', '.join(missing)} missing; "
                        f"run `neuralab data download {NAME}`")
    remembered = remembered_digests({p.name: p for p in files.values()}, {})
    key = None if remembered is None else cache_key(NAME, manifest_digest(remembered))

    def build() -> Dataset:
        digests, splits = {}, {}
        for split, path in files.items():
            blob, digests[path.name], _ = read_verified(path, None)
            splits[split] = Split(*_read(path, PARTS[split], blob))
        source = DataSource(NAME, str(folder(root)), FORMAT, manifest_digest(digests), False,
                            NOTE, digests)
        data = Dataset(NAME, splits, list(CLASSES), source)
        check_complete(data, INFO, folder(root))
        return data

    return cached(NAME, key, build, rekey=lambda data: cache_key(NAME, data.source.checksum))


def probe(root: Path) -> dict:
    import scipy.io

    files = present(root)
    if not files:
        return status_row(NAME)
    counts = {}
    for split, path in files.items():
        try:
            shapes = {name: shape for name, shape, _ in scipy.io.whosmat(path)}
            counts[split] = int(shapes.get(f"{PARTS[split]}_data", (0,))[0])
        except (OSError, ValueError):
            counts[split] = 0
    return status_row(NAME, folder(root), FORMAT, verified=False, counts=counts, note=NOTE)


def download(root: Path) -> Path:
    """Fetch the hw5 ``data.zip`` (no published checksum) and keep its nist36 ``.mat`` files."""
    dest = folder(root)
    if present(root):
        return dest
    wanted = {f"nist36_{part}.mat" for part in PARTS.values()}
    return fetch_and_extract(URLS, dest, None,
                             member=lambda name: Path(name).name
                             if Path(name).name in wanted else None)
