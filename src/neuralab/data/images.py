"""Image files: scanning ``split/class/*.png|jpg`` trees, fingerprints, decoding with PIL.

Decoding is serial on purpose: for small images (CIFAR's 32x32 JPEGs) a thread pool is slower
than one thread because PIL's per-image work is too short to win back the GIL hand-offs.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

from neuralab.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


class ImageFile(NamedTuple):
    """One file of a tree: its path relative to the tree root, size and mtime."""

    rel: str
    size: int
    mtime_ns: int


def list_images(folder: Path, rel_prefix: str = "") -> list[ImageFile]:
    """The image files directly inside ``folder``, sorted by name (cheap: one scandir + stats)."""
    found = []
    with os.scandir(folder) as it:
        for entry in it:
            if entry.name.lower().endswith(IMAGE_SUFFIXES) and entry.is_file():
                st = entry.stat()
                found.append(ImageFile(rel_prefix + entry.name, st.st_size, st.st_mtime_ns))
    return sorted(found, key=lambda f: f.rel)


def scan_tree(root: Path, splits: list[str] | None = None) -> dict[str, dict[str, list[ImageFile]]]:
    """``{split: {class: [ImageFile, ...]}}`` for a ``root/split/class/*.png|jpg`` tree.

    ``splits`` restricts (and orders) the split folders looked at; by default every folder.
    """
    tree: dict[str, dict[str, list[ImageFile]]] = {}
    names = splits if splits is not None else sorted(
        p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for split in names:
        folder = root / split
        if not folder.is_dir():
            continue
        classes = sorted(p.name for p in folder.iterdir()
                         if p.is_dir() and not p.name.startswith("."))
        tree[split] = {c: list_images(folder / c, f"{split}/{c}/") for c in classes}
    return tree


def fingerprint(files: list[ImageFile]) -> str:
    """A cheap identity of a set of files (names, sizes, mtimes): finds a cache entry."""
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.rel}\0{f.size}\0{f.mtime_ns}\n".encode())
    return h.hexdigest()


def resize_center_crop(image, size: int):
    """Resize a PIL image so its shorter side is ``size``, then crop the central square."""
    from PIL import Image

    w, h = image.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    image = image.resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    return image.crop((left, top, left + size, top + size))


def image_mode(path: Path) -> str:
    """``"L"`` when the image is grayscale, else ``"RGB"``: the mode a whole tree is decoded in."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return "L" if im.mode in GRAY_MODES else "RGB"
    except (OSError, UnidentifiedImageError) as err:
        raise DataError(f"corrupt image file {path}: {err}") from None


def read_image(path: str | Path, mode: str = "RGB") -> np.ndarray:
    """uint8 ``[H, W, C]`` of an image file in ``mode``; a file that is no readable image is a
    one-line error naming it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            array = np.asarray(im.convert(mode), dtype=np.uint8).copy()
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"cannot read {path} as an image ({err}); give a PNG or JPEG "
                        "photo") from None
    return array[..., None] if array.ndim == 2 else array


def decode_one(data: bytes, path: Path, mode: str, size: int | None) -> np.ndarray:
    """Decode image bytes into uint8 ``[H, W, C]`` in ``mode`` ("RGB" or "L")."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            if size is not None:
                w, h = im.size
                scale = size / min(w, h)
                im.draft(mode, (int(w * scale) + 1, int(h * scale) + 1))  # fast JPEG downscale
                out = resize_center_crop(im.convert(mode), size)
            else:
                out = im.convert(mode)
            array = np.asarray(out, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise DataError(f"corrupt image file {path}: {err}") from None
    return array[..., None] if array.ndim == 2 else array


def decode_files(root: Path, files: list[ImageFile], *, mode: str = "RGB",
                 size: int | None = None, desc: str = "decoding") -> tuple[np.ndarray, str]:
    """Decode ``files`` (relative to ``root``) into uint8 ``[N, H, W, C]`` plus a content digest.

    Without ``size`` all images must have the same size; with it each is resized (shorter side)
    and centre-cropped to ``size x size``. The digest, ``"sha256:<hex>"``, covers every file's
    relative path and bytes in order: the dataset's real checksum, computed while decoding.
    """
    from tqdm import tqdm

    if not files:
        raise DataError(f"no images (.png/.jpg) under {root}")
    h = hashlib.sha256()
    out: np.ndarray | None = None
    for i, f in enumerate(tqdm(files, desc=desc, unit="img", leave=False, disable=None,
                               file=sys.stderr)):
        path = root / f.rel
        try:
            data = path.read_bytes()
        except OSError as err:
            raise DataError(f"cannot read {path}: {err.strerror or err}") from None
        h.update(f"{f.rel}\0{len(data)}\0".encode())
        h.update(data)
        array = decode_one(data, path, mode, size)
        if out is None:
            out = np.empty((len(files), *array.shape), dtype=np.uint8)
        elif array.shape != out.shape[1:]:
            raise DataError(f"image {path} is {array.shape[1]}x{array.shape[0]} but "
                            f"{files[0].rel} is {out.shape[2]}x{out.shape[1]}; all images of "
                            "a folder dataset must have one size")
        out[i] = array
    assert out is not None
    return out, f"sha256:{h.hexdigest()}"
