"""Learning curves: loss and accuracy against training steps for every split on one figure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neuralab.viz.common import new_figure

_STYLE = {"train": "-", "val": "-", "test": "--"}


def _series(history: Sequence[dict[str, Any]], x: str, key: str):
    pts = [(row[x], row[key]) for row in history
           if row.get(key) not in (None, "") and row.get(x) not in (None, "")]
    return [float(p[0]) for p in pts], [float(p[1]) for p in pts]


def best_step(history: Sequence[dict[str, Any]], x: str = "step",
              monitor: str = "val_loss", mode: str = "min") -> float | None:
    """``x`` of the row with the best ``monitor`` value (the weights ``restore_best`` keeps:
    the first row reaching the minimum, as :class:`~neuralab.train.EarlyStopping` keeps it)."""
    xs, ys = _series(history, x, monitor)
    if not xs:
        return None
    sign = 1.0 if mode == "min" else -1.0
    pick = min(range(len(ys)), key=lambda i: (sign * ys[i], i))
    return xs[pick]


def plot_curves(history: Sequence[dict[str, Any]], x: str = "step",
                metrics: Sequence[str] = ("loss", "accuracy"),
                splits: Sequence[str] = ("train", "val", "test"), title: str = "",
                final: dict[str, float] | None = None, restored: float | None = None,
                runs: dict[str, Sequence[dict[str, Any]]] | None = None):
    """One panel per metric; each split present in ``history`` as a line.

    ``history`` rows hold ``x`` and keys like ``train_loss``/``val_accuracy``; ``final`` may
    give end-of-run values (e.g. ``{"test_accuracy": 0.71}``) drawn as a horizontal marker.
    ``restored`` is the ``x`` of the weights the run ended with when it restored its best
    checkpoint: a vertical line, with the value of each split marked there. A split measured
    once is written as its number in the panel, not drawn as a lone dot. ``runs`` draws
    several runs' histories on the same panels instead (``{label: history}``, one colour per
    run, line style per split).
    """
    fig, axes = new_figure(5.0 * len(metrics), 3.8, ncols=len(metrics), squeeze=False)
    histories = runs if runs is not None else {"": history}
    colors = [f"C{i}" for i in range(10)]
    for ax, metric in zip(axes[0], metrics, strict=True):
        singles = []
        for i, (run_label, hist) in enumerate(histories.items()):
            for j, split in enumerate(splits):
                xs, ys = _series(hist, x, f"{split}_{metric}")
                label = f"{run_label} {split}".strip()
                color = colors[i % 10] if runs is not None else colors[j % 10]
                style = _STYLE.get(split, "-") if runs is None else ["-", "--", ":", "-."][j % 4]
                if len(xs) == 1:
                    singles.append(f"{label}: {ys[0]:.4g} at {x} {xs[0]:g}")
                elif xs:
                    ax.plot(xs, ys, style, color=color, label=label,
                            marker="." if len(xs) < 40 else None)
                    if restored is not None and runs is None and min(xs) <= restored:
                        at = [y for xv, y in zip(xs, ys, strict=True) if xv <= restored][-1]
                        ax.plot([restored], [at], "o", color=color, mfc="none", ms=8)
        if restored is not None and runs is None:
            ax.axvline(restored, color="k", ls="--", lw=0.8,
                       label=f"restored best weights ({x} {restored:g})")
        for split in splits:
            value = (final or {}).get(f"{split}_{metric}")
            if value is not None:
                ax.axhline(value, ls=":", color="gray", label=f"{split} (final) {value:.3f}")
        if singles:
            ax.text(0.02, 0.02, "\n".join(singles), transform=ax.transAxes, fontsize=8,
                    va="bottom", ha="left",
                    bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def count_points(history: Sequence[dict[str, Any]], x: str, key: str) -> int:
    """How many rows of ``history`` measured ``key``."""
    return len(_series(history, x, key)[0])
