"""First-layer weights drawn as pictures: one tile per hidden unit.

A fully connected layer on flattened images has a weight matrix ``[H, D]`` (the engine's
``Linear`` layout: one row per output unit), where ``D = height * width * channels``. Each row
is the image that unit responds to most strongly (for a unit-norm input); drawing the rows as
images shows what the layer has learnt: noise at initialisation, strokes or colour blobs after
training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuralab.viz.common import new_figure


def weight_images(weight: np.ndarray, image_shape: Sequence[int],
                  channels_first: bool = False) -> np.ndarray:
    """Rows of ``weight [H, D]`` reshaped to images ``[H, h, w]`` (grey) or ``[H, h, w, 3]``.

    ``image_shape`` is ``(h, w)``, ``(h, w, c)`` or, with ``channels_first=True``,
    ``(c, h, w)`` (the order in which the images were flattened).
    """
    weight = np.asarray(weight)
    shape = tuple(int(s) for s in image_shape)
    if weight.ndim != 2 or weight.shape[1] != int(np.prod(shape)):
        raise ValueError(f"weight must be [H, {int(np.prod(shape))}] for images {shape}, "
                         f"got {weight.shape}")
    images = weight.reshape(len(weight), *shape)
    if len(shape) == 3:
        if channels_first:
            images = images.transpose(0, 2, 3, 1)
        if images.shape[-1] == 1:
            images = images[..., 0]
    return images


def tile_images(images: np.ndarray, ncols: int, pad: int = 1) -> np.ndarray:
    """One mosaic of ``images [N, h, w]`` or ``[N, h, w, 3]``, each min-max scaled to [0, 1]
    on its own, ``ncols`` per row, separated by ``pad`` pixels of white."""
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape[:3]
    lo = images.reshape(n, -1).min(axis=1)
    hi = images.reshape(n, -1).max(axis=1)
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = (images - lo.reshape(-1, *[1] * (images.ndim - 1))) / \
        span.reshape(-1, *[1] * (images.ndim - 1))
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    mosaic = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, *images.shape[3:]))
    for k in range(n):
        r, c = divmod(k, ncols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        mosaic[y:y + h, x:x + w] = scaled[k]
    return mosaic


def plot_weights(weight: np.ndarray, image_shape: Sequence[int], ncols: int = 8,
                 title: str = "", channels_first: bool = False, max_units: int | None = None,
                 cell: float = 0.8):
    """The rows of ``weight [H, D]`` as a grid of images (one mosaic, each tile min-max scaled
    on its own; grey for one channel, RGB for three). ``max_units`` draws the first units."""
    images = weight_images(weight, image_shape, channels_first)
    if max_units is not None:
        images = images[:max_units]
    mosaic = tile_images(images, ncols)
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    fig, ax = new_figure(cell * ncols + 0.4, cell * nrows + (0.6 if title else 0.2))
    ax.imshow(mosaic, cmap="gray" if mosaic.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
