"""Learning curves: loss and accuracy against training steps for every split on one figure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neuralab.viz.common import new_figure

_STYLE = {"train": "-", "val": "-", "test": "--"}


def _series(history: Sequence[dict[str, Any]], x: str, key: str):
    pts = [(row[x], row[key]) for row in history if row.get(key) not in (None, "")]
    return [float(p[0]) for p in pts], [float(p[1]) for p in pts]


def plot_curves(history: Sequence[dict[str, Any]], x: str = "step",
                metrics: Sequence[str] = ("loss", "accuracy"),
                splits: Sequence[str] = ("train", "val", "test"), title: str = "",
                final: dict[str, float] | None = None):
    """One panel per metric; each split present in ``history`` as a line.

    ``history`` rows hold ``x`` and keys like ``train_loss``/``val_accuracy``; ``final`` may
    give end-of-run values (e.g. ``{"test_accuracy": 0.71}``) drawn as a horizontal marker.
    """
    fig, axes = new_figure(5.0 * len(metrics), 3.8, ncols=len(metrics), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for split in splits:
            xs, ys = _series(history, x, f"{split}_{metric}")
            if xs:
                ax.plot(xs, ys, _STYLE.get(split, "-"), label=split, marker="." if len(xs) < 40
                        else None)
            value = (final or {}).get(f"{split}_{metric}")
            if value is not None:
                ax.axhline(value, ls=":", color="gray", label=f"{split} (final) {value:.3f}")
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
