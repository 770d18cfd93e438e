"""Shared figure plumbing: figures drawn with matplotlib's object API, atomic PNG writes.

Figures are :class:`matplotlib.figure.Figure` objects made directly, not through pyplot, so
importing :mod:`neuralab.viz` never switches matplotlib's backend (inline plots in Jupyter keep
working), needs no display, and a figure is freed as soon as nothing refers to it.
"""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.figure import Figure

from neuralab.io import atomic_write_bytes


def new_figure(width: float = 6.4, height: float = 4.0, **kwargs):
    """``(figure, axes)`` as ``plt.subplots`` gives them, with the figure size in inches."""
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots(**kwargs)


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())
