"""Draw detected character boxes on the photo (hw5 Q4.3) and save it (PNG, JPEG or WebP by the
file name's suffix)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from neuralab.errors import NeuralabError
from neuralab.ocr.image import to_gray

#: file suffix -> the format PIL writes
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """Any image array (see :func:`neuralab.ocr.image.to_gray`) -> uint8 ``[H, W, 3]``;
    colour is kept, transparency is composited over white."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        if a.dtype == np.uint8:
            rgb = a[:, :, :3].astype(np.float32) / 255
            alpha = a[:, :, 3:].astype(np.float32) / 255 if a.shape[2] == 4 else None
        else:
            f = a.astype(np.float32)
            f = f / 255 if f.size and f.max() > 1.0 + 1e-3 else f
            rgb, alpha = f[:, :, :3], (f[:, :, 3:] if a.shape[2] == 4 else None)
        if alpha is not None:
            rgb = rgb * alpha + (1 - alpha)
        return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    g = (to_gray(a) * 255 + 0.5).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


def draw_boxes(
    image: np.ndarray,
    boxes: np.ndarray,
    path: str | os.PathLike,
    labels: Sequence[str] | None = None,
    color: tuple[int, int, int] = (230, 20, 20),
    max_side: int | None = None,
) -> Path:
    """Write ``image`` with ``boxes`` (``[N, 4]`` rows ``[y1, x1, y2, x2]``) outlined to
    ``path`` in the format its suffix names (.png, .jpg/.jpeg, .webp; another suffix is a
    one-line error); ``labels[i]`` (optional) is written above box ``i``. ``max_side``
    shrinks the picture (boxes follow) so its longer side is at most that. Returns the path."""
    rgb = Image.fromarray(to_rgb8(image))
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if max_side and max(rgb.size) > max_side:
        f = max_side / max(rgb.size)
        rgb = rgb.resize((max(1, round(rgb.width * f)), max(1, round(rgb.height * f))), Image.BOX)
        boxes = boxes * f
    boxes = np.round(boxes).astype(np.int64)
    H, W = rgb.height, rgb.width
    width = max(1, round(max(H, W) / 600))
    draw = ImageDraw.Draw(rgb)
    font = None
    if labels is not None and len(boxes):
        hts = boxes[:, 2] - boxes[:, 0]
        font = ImageFont.load_default(size=max(10, int(0.45 * float(np.median(hts)))))
    for i, (y1, x1, y2, x2) in enumerate(boxes):
        draw.rectangle([int(x1), int(y1), int(x2) - 1, int(y2) - 1], outline=color, width=width)
        if font is not None and labels is not None and i < len(labels):
            draw.text(
                (int(x1), int(y1) - 2), str(labels[i]), fill=(20, 60, 230), font=font, anchor="lb"
            )
    path = Path(path)
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise NeuralabError(f"cannot write {path}: give a .png, .jpg or .webp file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        rgb.save(path, format=fmt, **({"quality": 92} if fmt != "PNG" else {}))
    except OSError as e:
        raise NeuralabError(f"cannot write {path}: {e.strerror or e}") from None
    return path
