"""Reading photos and turning any image array into one grayscale working image.

``load_image(path)`` is what the CLI calls; ``to_gray`` and ``downscale`` are the first two
steps of :func:`neuralab.ocr.detect.find_letters`.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from neuralab.errors import NeuralabError

# ITU-R 709 luma, as skimage.color.rgb2gray
_LUMA = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file (PNG, JPEG, ...) into an array, honouring EXIF rotation.

    Returns ``uint8`` ``[H, W]`` for grayscale files, ``[H, W, 4]`` for files with
    transparency, ``[H, W, 3]`` otherwise. Raises :class:`NeuralabError` (one line) when the
    file is missing or is not an image Pillow can decode.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise NeuralabError(f"image file not found: {path} (check the path)")
    return _decode(path, path)


def image_from_bytes(data: bytes, name: str = "standard input") -> np.ndarray:
    """:func:`load_image` for an encoded image held in memory (``neuralab ocr -`` reads
    standard input); ``name`` is what error messages call it."""
    if not data:
        raise NeuralabError(f"no image data on {name} (pipe a PNG or JPEG photo into it)")
    return _decode(io.BytesIO(data), name)


def _decode(source, name: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as im:
                im = ImageOps.exif_transpose(im)
                im.load()
                if im.mode in ("L", "1", "I", "I;16", "F"):
                    arr = np.asarray(im.convert("F"), dtype=np.float32)
                    hi = 65535.0 if im.mode.startswith("I") and arr.max() > 255 else 255.0
                    if im.mode == "1":
                        hi = 1.0
                    return np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
                if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                    return np.asarray(im.convert("RGBA"), dtype=np.uint8)
                return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise NeuralabError(
            f"cannot read {name} as an image ({reason}); give a PNG or JPEG photo"
        ) from None


def to_gray(image: np.ndarray) -> np.ndarray:
    """Any image array -> float32 ``[H, W]`` in [0, 1] (0 black, 1 white).

    Accepts ``[H, W]``, ``[H, W, 1]``, ``[H, W, 2]`` (gray + alpha), ``[H, W, 3]`` (RGB) and
    ``[H, W, 4]`` (RGBA); integer dtypes are scaled by their range, floats are taken as
    [0, 1] (or [0, 255] when their maximum exceeds 1). Transparent pixels become white
    paper (alpha is composited over white).
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (2, 3, 4)):
        raise NeuralabError(
            f"expected an image array [H, W] or [H, W, 1|2|3|4], got shape {a.shape}"
        )
    if a.shape[0] < 2 or a.shape[1] < 2:
        raise NeuralabError(f"image is too small to read: shape {a.shape}")
    a = _to_unit_float(a)
    if a.ndim == 2:
        return a
    c = a.shape[2]
    if c == 2:
        gray, alpha = a[:, :, 0], a[:, :, 1]
    else:
        gray = a[:, :, 0] * _LUMA[0] + a[:, :, 1] * _LUMA[1] + a[:, :, 2] * _LUMA[2]
        alpha = a[:, :, 3] if c == 4 else None
    if alpha is not None:
        gray = gray * alpha + (1.0 - alpha)
    return np.clip(gray, 0.0, 1.0).astype(np.float32, copy=False)


def _to_unit_float(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float32) / np.float32(_int_range(a))
    if not np.issubdtype(a.dtype, np.floating):
        raise NeuralabError(f"unsupported image dtype {a.dtype}; give uint8 or float")
    a = a.astype(np.float32, copy=False)
    if not np.isfinite(a).all():
        a = np.nan_to_num(a, nan=1.0, posinf=1.0, neginf=0.0)
    if a.size and float(a.max()) > 1.0 + 1e-3:
        a = a / np.float32(255.0)
    return np.clip(a, 0.0, 1.0)


def _int_range(a: np.ndarray) -> float:
    """White level of an integer image: 255 for 8-bit data, 65535 for 16-bit data."""
    if a.dtype.itemsize == 1:
        return 255.0
    top = int(a.max()) if a.size else 0
    return 255.0 if top <= 255 else 65535.0 if top <= 65535 else float(top)


def working_gray(image: np.ndarray, max_side: int) -> np.ndarray:
    """Grayscale ``[h, w]`` float32 copy of ``image`` whose longer side is ``max_side``.

    Shrinking uses box averaging (antialiased), enlarging bilinear interpolation. Large
    uint8 photos are reduced by Pillow, and other dtypes by an integer block mean, before the
    float conversion, which keeps a 24 MP photo well under a second.
    """
    a = np.asarray(image)
    h0, w0 = a.shape[:2]
    scale = max_side / max(h0, w0)
    if scale > 1.0:  # upsampling a small image (bilinear)
        g = Image.fromarray(to_gray(a))
        size = (max(2, round(w0 * scale)), max(2, round(h0 * scale)))
        return np.asarray(g.resize(size, Image.BILINEAR), dtype=np.float32)
    if scale == 1.0:
        return to_gray(a)
    size = (max(2, round(w0 * scale)), max(2, round(h0 * scale)))
    if a.dtype == np.uint8 and (a.ndim == 2 or a.shape[2] in (3, 4)):
        im = Image.fromarray(np.ascontiguousarray(a))
        factor = int(1.0 / scale) // 2
        if factor >= 2:
            im = im.reduce(factor)
        gray = to_gray(np.asarray(im.resize(size, Image.BOX)))
    else:
        f = int(1.0 / scale)
        if f >= 2 and a.dtype != np.bool_:  # integer block mean first: one pass over the photo
            hb, wb = h0 // f, w0 // f
            blocks = a[: hb * f, : wb * f].reshape(hb, f, wb, f, *a.shape[2:])
            white = _int_range(a) if np.issubdtype(a.dtype, np.integer) else None
            a = blocks.mean(axis=(1, 3), dtype=np.float32)
            if white is not None:
                a = a / np.float32(white)
        g = Image.fromarray(to_gray(a))
        gray = np.asarray(g.resize(size, Image.BOX), dtype=np.float32)
    return gray
