"""Grids of small images: weights as pictures, filters, reconstructions, samples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuralab.viz.common import new_figure


def _normalise(img: np.ndarray) -> np.ndarray:
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img, dtype=float)


def plot_image_grid(images: np.ndarray, ncols: int = 8, titles: Sequence[str] | None = None,
                    title: str = "", cmap: str = "gray", normalise_each: bool = True,
                    cell: float = 1.1):
    """Draw ``images`` ``[N, H, W]`` or ``[N, H, W, 3]`` in a grid.

    Weight vectors are reshaped by the caller (e.g. first-layer weights ``[64, 1024]`` ->
    ``[64, 32, 32]``); each tile is min-max scaled on its own unless ``normalise_each=False``.
    """
    images = np.asarray(images)
    n = len(images)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = new_figure(cell * ncols, cell * nrows + (0.4 if title else 0), nrows=nrows,
                           ncols=ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = _normalise(images[k]) if normalise_each else images[k]
        ax.imshow(img, cmap=None if img.ndim == 3 else cmap, interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
