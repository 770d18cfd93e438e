"""Deterministic stratified splits for datasets that do not ship their own."""

from __future__ import annotations

import numpy as np

from neuralab.data.dataset import Split
from neuralab.errors import NeuralabError


def stratified_indices(labels: np.ndarray, fractions: dict[str, float], seed: int, *,
                       min_each: int = 0) -> dict[str, np.ndarray]:
    """Split indices of ``labels`` [N] class by class into named parts.

    Within each class the indices are shuffled by ``np.random.default_rng(seed)`` (classes in
    ascending order) and cut by ``fractions`` (e.g. ``{"train": .7, "val": .15, "test": .15}``):
    each part but the last gets ``round(fraction * n_class)`` of the class, the last the rest.
    Each part's indices are returned sorted, so a part keeps the source's order. The result
    depends only on ``labels``, ``fractions`` and ``seed``. ``min_each`` raises each part but
    the last to at least that many of a class (when the class has enough; the last part keeps
    what is left), so that a small class still reaches every part.
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
                take = max(int(round(fractions[name] * len(members))), min_each)
                stop = min(len(members), start + take)
            parts[name].append(members[start:stop])
            start = stop
    return {name: np.sort(np.concatenate(chunks)) if chunks else np.zeros(0, np.int64)
            for name, chunks in parts.items()}


def split_arrays(images: np.ndarray, labels: np.ndarray, fractions: dict[str, float],
                 seed: int) -> dict[str, Split]:
    """:func:`stratified_indices` applied to an images/labels pair."""
    index = stratified_indices(labels, fractions, seed)
    return {name: Split(images[idx], labels[idx]) for name, idx in index.items()}


def stratified_subset(split: Split, n: int | None, seed: int = 0, *,
                      setting: str = "train_subset") -> Split:
    """About ``n`` examples of ``split``, ``round(n / N * N_class)`` of each class (all of it
    when ``n`` is None or at least its size ``N``); order kept. ``setting`` names the knob in
    the error raised when ``n`` is too small to keep a single example."""
    if not n or n >= len(split.labels):
        return split
    idx = stratified_indices(split.labels, {"keep": n / len(split.labels), "rest": 0.0},
                             seed)["keep"]
    if len(idx) == 0:
        raise NeuralabError(f"{setting}={n} keeps no example of {len(split.labels)} (each class "
                            f"keeps round({n}/{len(split.labels)} x its size)); use a larger one")
    return Split(split.images[idx], split.labels[idx])


def hold_out(split: Split, n: int, seed: int = 0, *,
             setting: str = "val_size") -> tuple[Split, Split]:
    """``(rest, held_out)``: about ``n`` examples of ``split`` held out class by class (a
    validation set), as :func:`stratified_indices` cuts them; both must keep examples."""
    total = len(split.labels)
    parts = stratified_indices(split.labels, {"held": n / total, "rest": 1 - n / total}, seed)
    if not len(parts["held"]) or not len(parts["rest"]):
        raise NeuralabError(f"{setting}={n} leaves {len(parts['held'])} held-out and "
                            f"{len(parts['rest'])} training examples of {total}; use 0 < "
                            f"{setting} < {total}")
    held, rest = parts["held"], parts["rest"]
    return (Split(split.images[rest], split.labels[rest]),
            Split(split.images[held], split.labels[held]))


def validation_split(data, n: int, setting: str, *, user_folder: bool = False,
                     ) -> tuple[Split, Split]:
    """``(train, val)`` of a :class:`~neuralab.data.dataset.Dataset`: its own validation
    split when it has one (an image folder's recorded cut), else about ``n`` training examples
    held out class by class (:func:`hold_out`, seed 0). For a user's folder
    (``user_folder``) at most a tenth of its training images (and at least one per class) are
    held out, so a small folder keeps most of its images for training."""
    train = data.splits["train"]
    if "val" in data.splits:
        return train, data.splits["val"]
    if user_folder:
        n = min(n, max(len(train.labels) // 10, len(data.classes)))
    return hold_out(train, n, setting=setting)
