"""Decoded-array cache: a :class:`Dataset` saved once as uint8 ``.npy`` files, loaded in a blink.

Layout: ``cache_dir()/<dataset>/<key>/`` with ``<split>-images.npy`` (uint8 ``[N, H, W, C]``),
``<split>-labels.npy`` (int64 ``[N]``) and ``meta.json`` (classes, source, counts). The key is
derived from the source's checksum (or a cheap fingerprint for image folders) plus the
loader's options, so changed data or options never hit a stale entry. An entry is written in
a temporary folder and renamed into place: readers see all of it or nothing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np

from neuralab.data.dataset import Dataset, DataSource, Split
from neuralab.data.paths import cache_dir

CACHE_VERSION = "1"


def cache_key(*parts: object) -> str:
    """A short stable key from the given parts (checksums, options)."""
    text = "\n".join([CACHE_VERSION, *map(str, parts)])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def entry_dir(dataset: str, key: str) -> Path:
    return cache_dir() / dataset / key


def read_meta(dataset: str, key: str) -> dict | None:
    """The ``meta.json`` of a cache entry (cheap: no arrays), or None."""
    try:
        return json.loads((entry_dir(dataset, key) / "meta.json").read_text())
    except (OSError, ValueError):
        return None


def load_cached(dataset: str, key: str) -> Dataset | None:
    """The cached :class:`Dataset`, or None when there is no complete entry."""
    meta = read_meta(dataset, key)
    if meta is None:
        return None
    folder = entry_dir(dataset, key)
    try:
        splits = {name: Split(np.load(folder / f"{name}-images.npy"),
                              np.load(folder / f"{name}-labels.npy"))
                  for name in meta["counts"]}
        return Dataset(meta["name"], splits, list(meta["classes"]), DataSource(**meta["source"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_cached(dataset: str, key: str, data: Dataset) -> None:
    """Write ``data`` as a cache entry (atomically). A failure only warns: loading still works."""
    final = entry_dir(dataset, key)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{key}.", suffix=".tmp"))
    except OSError as err:
        warnings.warn(f"cannot write the array cache under {final.parent}: {err}", stacklevel=2)
        return
    try:
        for name, split in data.splits.items():
            np.save(tmp / f"{name}-images.npy", split.images)
            np.save(tmp / f"{name}-labels.npy", split.labels)
        meta = {"name": data.name, "classes": data.classes, "counts": data.counts(),
                "source": asdict(data.source), "shape": list(data.image_shape)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if (final / "meta.json").exists():  # another process just wrote the same entry
            return
        shutil.rmtree(final, ignore_errors=True)  # an incomplete leftover, if any
        tmp.rename(final)
    except OSError as err:
        warnings.warn(f"cannot write the array cache {final}: {err}", stacklevel=2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cached(dataset: str, key: str, build) -> Dataset:
    """``load_cached(dataset, key)``, else ``build()`` and save it."""
    hit = load_cached(dataset, key)
    if hit is not None:
        return hit
    if read_meta(dataset, key) is not None:  # an unreadable entry: drop it and rebuild
        shutil.rmtree(entry_dir(dataset, key), ignore_errors=True)
    data = build()
    save_cached(dataset, key, data)
    return data
