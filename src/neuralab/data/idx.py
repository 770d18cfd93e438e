"""The IDX format of MNIST, Fashion-MNIST and EMNIST.

A file is: two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions ``d``,
``d`` big-endian uint32 sizes, then the values in C order. Images files are ``[N, rows, cols]``
(magic 2051 = 0x00000803), label files ``[N]`` (magic 2049 = 0x00000801).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from neuralab.errors import DataError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, path: Path | str, *, magic: int | None = None) -> np.ndarray:
    """Decode IDX bytes into an array, checking the magic number and the size.

    ``path`` only names the file in errors. ``magic`` (e.g. :data:`IMAGES_MAGIC`) is checked
    when given. Raises a one-line :class:`DataError` on a bad header or a truncated body.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise DataError(f"corrupt file {path}: not an IDX file (bad magic number "
                        f"{data[:4].hex() or 'empty'}); delete it and download it again")
    found = int.from_bytes(data[:4], "big")
    if magic is not None and found != magic:
        raise DataError(f"corrupt file {path}: magic number 0x{found:08x}, expected "
                        f"0x{magic:08x}; delete it and download it again")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"corrupt file {path}: truncated header; delete it and download it again")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_TYPES[data[2]])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise DataError(f"corrupt file {path}: {len(data):,} bytes but its header {list(dims)} "
                        f"needs {expected:,} (truncated?); delete it and download it again")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx_count(path: Path) -> int | None:
    """The first dimension of an IDX file (gzipped or not) from its header only; None if bad."""
    try:
        opener = gzip.open if Path(path).suffix == ".gz" else open
        with opener(path, "rb") as f:
            head = f.read(8)
    except (OSError, EOFError, zlib.error):
        return None
    if len(head) < 8 or head[:2] != b"\0\0" or head[3] < 1:
        return None
    return int.from_bytes(head[4:8], "big")


def images_and_labels(images: np.ndarray, labels: np.ndarray, images_path: Path,
                      labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Check an images/labels pair and shape it: uint8 ``[N, H, W, 1]`` and int64 ``[N]``."""
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"corrupt file {images_path}: expected uint8 [N, rows, cols] images, "
                        f"got {images.dtype} {list(images.shape)}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"corrupt file {labels_path}: {list(labels.shape)} labels for "
                        f"{len(images):,} images in {images_path.name}")
    return images[..., None], labels.astype(np.int64)
