"""Shared figure plumbing: a headless backend and atomic PNG writes."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # never needs a display; must come before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402

from neuralab.io import atomic_write_bytes  # noqa: E402


def new_figure(width: float = 6.4, height: float = 4.0, **kwargs):
    """``plt.subplots`` with the figure size in inches."""
    return plt.subplots(figsize=(width, height), **kwargs)


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG atomically and close it (figures hold memory until closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
