"""Decoded-array cache: a :class:`Dataset` saved once as uint8 ``.npy`` files, loaded in a blink.

Layout: ``cache_dir()/<dataset>/<key>/`` with ``<split>-images.npy`` (uint8 ``[N, H, W, C]``),
``<split>-labels.npy`` (int64 ``[N]``) and ``meta.json`` (classes, source, counts). The key is
derived from the source's checksum (or a cheap fingerprint for image folders) plus the
loader's options, so changed data or options never hit a stale entry. An entry is written in
a temporary folder and renamed into place: readers see all of it or nothing.

Keys: loaders of checksummed formats (idx, CIFAR batches, .mat) key an entry by the content
checksum of the files it was decoded from. The lookup may use the digests remembered for the
files (path, size, mtime: see :mod:`neuralab.data.integrity`), but whenever an entry is
(re)built the loader hashes the bytes it decodes, and the entry is stored under the key of
*those* bytes (``cached(..., rekey=...)``), with ``verified`` judged on them: a file changed
behind an unchanged size and mtime cannot be recorded with its old checksum. Image folders are
found by a fingerprint of names, sizes and mtimes; their checksum is computed while decoding.

Leftovers: a writer killed mid-way leaves a ``.<key>.p<pid>-<host>.*.tmp`` folder (possibly a
whole split). Opening the cache of a dataset deletes such entries whose writer is gone (dead
pid on this host, or older than an hour when the owner cannot be checked). Cache problems are
never fatal: they print one ``neuralab: warning:`` line and loading goes on.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from neuralab.data.dataset import Dataset, DataSource, Split
from neuralab.data.paths import cache_dir, clean_stale_temps, make_temp_dir, warn

CACHE_VERSION = "2"
_cleaned: set[str] = set()


def open_cache(dataset: str) -> Path:
    """The dataset's cache folder, with stale temporary leftovers removed (once per process)."""
    folder = cache_dir() / dataset
    for place in (cache_dir(), folder):
        if str(place) not in _cleaned:
            _cleaned.add(str(place))
            clean_stale_temps(place)
    return folder


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
        tmp = make_temp_dir(final.parent, key)
    except OSError as err:
        warn(f"cannot write the array cache under {final.parent}: {err.strerror or err}")
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
        warn(f"cannot write the array cache {final}: {err.strerror or err}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cached(dataset: str, key: str | None, build: Callable[[], Dataset], *,
           rekey: Callable[[Dataset], str] | None = None) -> Dataset:
    """``load_cached(dataset, key)``, else ``build()`` and save it.

    ``key`` None skips the lookup (nothing trustworthy to look up by). ``rekey(data)`` gives
    the key to store a freshly built entry under, from what the build actually read (its
    content checksum); by default ``key``.
    """
    open_cache(dataset)
    if key is not None:
        hit = load_cached(dataset, key)
        if hit is not None:
            return hit
        if read_meta(dataset, key) is not None:  # an unreadable entry: drop it and rebuild
            shutil.rmtree(entry_dir(dataset, key), ignore_errors=True)
    data = build()
    final = rekey(data) if rekey is not None else key
    if final is not None:
        save_cached(dataset, final, data)
    return data
