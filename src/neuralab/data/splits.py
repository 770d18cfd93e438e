"""Deterministic stratified splits for datasets that do not ship their own."""

from __future__ import annotations

import numpy as np

from neuralab.data.dataset import Split


def stratified_indices(labels: np.ndarray, fractions: dict[str, float], seed: int,
                       ) -> dict[str, np.ndarray]:
    """Split indices of ``labels`` [N] class by class into named parts.

    Within each class the indices are shuffled by ``np.random.default_rng(seed)`` (classes in
    ascending order) and cut by ``fractions`` (e.g. ``{"train": .7, "val": .15, "test": .15}``):
    each part but the last gets ``round(fraction * n_class)`` of the class, the last the rest.
    Each part's indices are returned sorted, so a part keeps the source's order. The result
    depends only on ``labels``, ``fractions`` and ``seed``.
    """
    rng = np.random.default_rng(seed)
    names = list(fractions)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        start = 0
        for i, name in enumerate(names):
            if i == len(names) - 1:
                stop = len(members)
            else:
                stop = min(len(members), start + int(round(fractions[name] * len(members))))
            parts[name].append(members[start:stop])
            start = stop
    return {name: np.sort(np.concatenate(chunks)) if chunks else np.zeros(0, np.int64)
            for name, chunks in parts.items()}


def split_arrays(images: np.ndarray, labels: np.ndarray, fractions: dict[str, float],
                 seed: int) -> dict[str, Split]:
    """:func:`stratified_indices` applied to an images/labels pair."""
    index = stratified_indices(labels, fractions, seed)
    return {name: Split(images[idx], labels[idx]) for name, idx in index.items()}
