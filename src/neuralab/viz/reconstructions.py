"""Originals beside their reconstructions (autoencoder, PCA), with the PSNR of each pair."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuralab.viz.common import new_figure


def psnr(original: np.ndarray, reconstruction: np.ndarray, data_range: float = 1.0,
         ) -> np.ndarray:
    """Peak signal-to-noise ratio of each pair, in dB: ``10 log10(range^2 / MSE)``, by
    scikit-image's ``peak_signal_noise_ratio`` (in float64).

    Arrays are ``[N, ...]``; each pair's mean squared error is over its own pixels. A perfect
    reconstruction (MSE 0) gives ``inf``.
    """
    from skimage.metrics import peak_signal_noise_ratio

    a = np.asarray(original, dtype=np.float64)
    b = np.asarray(reconstruction, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    with np.errstate(divide="ignore"):
        return np.array([peak_signal_noise_ratio(x, y, data_range=data_range)
                         for x, y in zip(a, b, strict=True)], dtype=np.float64)


def plot_reconstructions(originals: np.ndarray, reconstructions: dict[str, np.ndarray],
                         labels: Sequence[str] | None = None, title: str = "",
                         cell: float = 1.0, data_range: float = 1.0):
    """Columns are samples; the first row the originals ``[N, H, W]``, then one row per entry
    of ``reconstructions`` (name -> ``[N, H, W]``), each tile titled with its PSNR.

    Pixels are drawn on the fixed scale ``[0, data_range]`` (no per-tile stretching), so a
    faint reconstruction looks faint.
    """
    originals = np.asarray(originals)
    n, rows = len(originals), 1 + len(reconstructions)
    fig, axes = new_figure(cell * n + 1.2, cell * rows + 0.5 + (0.3 if title else 0),
                           nrows=rows, ncols=n, squeeze=False)
    for j in range(n):
        ax = axes[0, j]
        ax.imshow(originals[j], cmap="gray", vmin=0, vmax=data_range, interpolation="nearest")
        ax.set_title(str(labels[j]) if labels is not None else "", fontsize=8)
    for i, recon in enumerate(reconstructions.values(), start=1):
        values = psnr(originals, recon, data_range)
        for j in range(n):
            ax = axes[i, j]
            ax.imshow(np.clip(recon[j], 0, data_range), cmap="gray", vmin=0, vmax=data_range,
                      interpolation="nearest")
            ax.set_title(f"{values[j]:.1f} dB", fontsize=7)
    row_names = ["original", *reconstructions]
    for i, ax_row in enumerate(axes):
        for ax in ax_row:
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(row_names[i], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
