"""Confusion matrices: counting, drawing, and listing the most confused pairs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuralab.viz.common import new_figure


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class i predicted as j (int64 [K, K]), by
    scikit-learn's ``confusion_matrix`` over the labels ``0..K-1`` (classes never seen keep
    their row and column of zeros)."""
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    cm = sk_confusion_matrix(np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64),
                             labels=np.arange(n_classes))
    return cm.astype(np.int64)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each class: ``C[i, i] / sum_j C[i, j]`` (nan for classes with no samples)."""
    totals = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(cm) / totals


def top_confusions(cm: np.ndarray, classes: Sequence[str], k: int = 10) -> list[dict]:
    """The ``k`` largest off-diagonal cells as rows ``{true, predicted, count, rate}``."""
    off = cm.astype(float).copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None)[::-1][:k]
    rows = []
    for flat in order:
        i, j = divmod(int(flat), cm.shape[1])
        if off[i, j] == 0:
            break
        rows.append({"true": classes[i], "predicted": classes[j], "count": int(cm[i, j]),
                     "rate": float(cm[i, j] / max(cm[i].sum(), 1))})
    return rows


def plot_confusion(cm: np.ndarray, classes: Sequence[str], title: str = "",
                   normalize: bool = True):
    """Heat-map of the (row-normalised) confusion matrix with class names on both axes."""
    size = max(4.0, 0.32 * len(classes) + 2)
    fig, ax = new_figure(size, size)
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    im = ax.imshow(shown, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(classes) <= 12:
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, f"{shown[i, j]:.2f}" if normalize else str(cm[i, j]),
                        ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > shown.max() / 2 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title or ("confusion matrix (row-normalised)" if normalize else "confusion"))
    fig.tight_layout()
    return fig
