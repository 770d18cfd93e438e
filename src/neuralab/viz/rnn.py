r"""Recurrent-network figures: accuracy against palindrome length, and the norm of
:math:`\partial L / \partial h_t` over time (the vanishing-gradient picture).

Both take finished numbers (rows of a results table, arrays of norms) and return a Figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from neuralab.viz.common import new_figure

_COLORS = {"rnn": "tab:blue", "lstm": "tab:orange"}
_LABELS = {"rnn": "vanilla RNN", "lstm": "LSTM"}


def summarize_by_length(rows: Sequence[Mapping[str, Any]], value: str = "accuracy",
                        ) -> dict[str, dict[int, dict[str, float]]]:
    """``{model: {T: {mean, std, min, max, n}}}`` of ``value`` over the seeds in ``rows``.

    ``rows`` hold ``model``, ``seq_length`` and ``value`` (one row per model, length and seed).
    """
    groups: dict[str, dict[int, list[float]]] = {}
    for row in rows:
        groups.setdefault(str(row["model"]), {}).setdefault(int(row["seq_length"]), []).append(
            float(row[value]))
    return {model: {t: {"mean": float(np.mean(v)), "std": float(np.std(v)),
                        "min": float(np.min(v)), "max": float(np.max(v)), "n": len(v)}
                    for t, v in sorted(by_t.items())}
            for model, by_t in groups.items()}


def plot_accuracy_vs_length(rows: Sequence[Mapping[str, Any]], title: str = "",
                            steps_panel: bool = True, chance: float | None = 0.1,
                            step_budget: int | None = None):
    """Accuracy against palindrome length T, one curve per model: the mean over seeds as a line,
    the min-max range over seeds as a band, each seed as a dot. With ``steps_panel`` a second
    panel shows the training steps used, with ``step_budget`` as a dashed line."""
    panels = 2 if steps_panel and all("steps" in r for r in rows) else 1
    fig, axes = new_figure(5.2 * panels, 3.8, ncols=panels, squeeze=False)
    for ax, value in zip(axes[0], ("accuracy", "steps")[:panels], strict=True):
        summary = summarize_by_length(rows, value)
        for model, by_t in summary.items():
            color = _COLORS.get(model)
            ts = np.array(list(by_t))
            mean = np.array([s["mean"] for s in by_t.values()])
            lo = np.array([s["min"] for s in by_t.values()])
            hi = np.array([s["max"] for s in by_t.values()])
            n = max(s["n"] for s in by_t.values())
            ax.plot(ts, mean, "-o", color=color, label=f"{_LABELS.get(model, model)} "
                    f"(mean of {n})" if n > 1 else _LABELS.get(model, model))
            if n > 1:
                ax.fill_between(ts, lo, hi, color=color, alpha=0.2, lw=0)
            seeds = [(int(r["seq_length"]), float(r[value])) for r in rows
                     if str(r["model"]) == model]
            ax.plot([s[0] for s in seeds], [s[1] for s in seeds], ".", color=color, alpha=0.5,
                    ms=4)
        ax.set_xlabel("palindrome length T")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if value == "accuracy":
            ax.set_ylabel("test accuracy (band: min-max over seeds)")
            ax.set_ylim(0, 1.03)
            if chance is not None:
                ax.axhline(chance, ls=":", color="gray", label="chance")
        else:
            ax.set_ylabel("training steps used")
            if step_budget:
                ax.axhline(step_budget, ls="--", color="gray", label="step budget")
            ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_gradient_norms(norms: Mapping[str, Sequence[float]], title: str = "",
                        styles: Mapping[str, str] | None = None):
    r"""``norms``: ``{label: [|dL/dh_1|, ..., |dL/dh_T|]}``; one line per label against the time
    step t on a log-scale y axis. A label starting with a model key (``"rnn"``/``"lstm"``) takes
    that model's colour; ``styles`` may give a line style per label (e.g. ``"--"`` for the
    untrained network)."""
    fig, ax = new_figure(6.4, 4.0)
    for label, values in norms.items():
        values = np.asarray(values, dtype=float)
        t = np.arange(1, len(values) + 1)
        color = next((c for k, c in _COLORS.items() if label.lower().startswith(k)), None)
        ax.plot(t, np.where(values > 0, values, np.nan), (styles or {}).get(label, "-o"),
                color=color, label=label, ms=3)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("time step t (the target is predicted after the last step)")
    ax.set_ylabel(r"$\|\partial L / \partial h_t\|$ (mean over sequences)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
