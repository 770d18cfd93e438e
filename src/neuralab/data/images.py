"""Image files: scanning ``split/class/*.png|jpg`` trees, fingerprints, decoding with PIL.

Decoding is serial on purpose: for small images (CIFAR's 32x32 JPEGs) a thread pool is slower
than one thread because PIL's per-image work is too short to win back the GIL hand-offs.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from neuralab.data.paths import warn
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


_OBJECT_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-fA-F]+>")


def image_error(path: Path, err: BaseException) -> DataError:
    """The one-line DataError for an image file PIL refused, naming the file (PIL's own text
    names an in-memory ``<_io.BytesIO object at 0x...>`` instead; that part is dropped)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(err, Image.DecompressionBombError):
        return DataError(f"image {path} is too large to decode safely ({err}); remove it from "
                         "the dataset folder or shrink it")
    if isinstance(err, UnidentifiedImageError):
        return DataError(f"corrupt image file {path}: not a readable PNG or JPEG image; "
                         "replace or remove it")
    text = " ".join(_OBJECT_REPR.sub("", str(err)).split()).rstrip(":; ") or type(err).__name__
    return DataError(f"corrupt image file {path}: {text}; replace or remove it")


def image_mode(path: Path) -> str:
    """``"L"`` when the image is grayscale, else ``"RGB"`` (header only, no decoding)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return "L" if im.mode in GRAY_MODES else "RGB"
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as err:
        raise image_error(Path(path), err) from None


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
    """Decode image bytes into uint8 ``[H, W, C]`` in ``mode``: "RGB", "L", or "auto" (the
    image's own kind: "L" for a gray image, see :data:`GRAY_MODES`, else "RGB").

    Any failure is a one-line DataError naming ``path``: a corrupt or truncated file, or one
    over PIL's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``, 2x of it is an error);
    PIL's bomb *warning* (between 1x and 2x) becomes one ``neuralab: warning:`` line.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                want = mode if mode != "auto" else ("L" if im.mode in GRAY_MODES else "RGB")
                if size is not None:
                    w, h = im.size
                    scale = size / min(w, h)
                    im.draft(want, (int(w * scale) + 1, int(h * scale) + 1))  # fast JPEG shrink
                    out = resize_center_crop(im.convert(want), size)
                else:
                    out = im.convert(want)
                array = np.asarray(out, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError,
            Image.DecompressionBombError) as err:
        raise image_error(path, err) from None
    for w in caught:
        if issubclass(w.category, Image.DecompressionBombWarning):
            warn(f"{path}: {w.message}")
    return array[..., None] if array.ndim == 2 else array


def decode_files(root: Path, files: list[ImageFile], *, mode: str = "RGB",
                 size: int | None = None, desc: str = "decoding") -> tuple[np.ndarray, str]:
    """Decode ``files`` (relative to ``root``) into uint8 ``[N, H, W, C]`` plus a content digest.

    ``mode`` "RGB" or "L" converts every image; "auto" gives C = 1 when every image is gray
    and C = 3 as soon as one is not (the gray ones then repeat their plane, as PIL's L -> RGB
    does), so the order of the files does not matter. Without ``size`` all images must have
    the same size; with it each is resized (shorter side) and centre-cropped to ``size x
    size``. The digest, ``"sha256:<hex>"``, covers every file's relative path and bytes in
    order: the dataset's real checksum, computed while decoding.
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
        elif array.shape[:2] != out.shape[1:3]:
            hint = "" if size else "; pass size=N to resize them to N x N"
            raise DataError(f"image {path} is {array.shape[1]}x{array.shape[0]} but "
                            f"{root / files[0].rel} is {out.shape[2]}x{out.shape[1]}; all images "
                            f"of a folder dataset must have one size{hint}")
        if array.shape[2] != out.shape[3]:   # auto mode: the first colour image after gray ones
            if out.shape[3] == 1:
                out = np.repeat(out, 3, axis=3)
            else:
                array = np.repeat(array, 3, axis=2)
        out[i] = array
    assert out is not None
    return out, f"sha256:{h.hexdigest()}"
