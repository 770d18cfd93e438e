"""The dataset registry: ``load``, ``info``, ``status``, ``download`` by name (or folder path).

Adding a dataset = one module plus one line here. The module (see ``mnist.py`` or
``nist36.py`` for a short one) provides ``load(root, **options) -> Dataset`` (find the files
under the data root, verify, decode once through :func:`neuralab.data.cache.cached`, and
:func:`neuralab.data.facts.check_complete` before returning), its facts as a
:class:`~neuralab.data.facts.DatasetInfo` (classes, shape, normalisations, expected counts),
and optionally ``probe(root) -> dict`` (cheap status row) and ``download(root) -> Path``.
The line is an :class:`Entry` in :data:`REGISTRY`.

A name that is not registered but names a folder (or contains a ``/``) is an image folder:
``load("path/to/flowers")`` is ``load("image-folder", path="path/to/flowers")`` (see
:mod:`neuralab.data.image_folder`); write ``./mnist`` for a folder called like a dataset.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from neuralab.data import cifar10, digits, emnist, flowers17, image_folder, mnist, nist36
from neuralab.data.dataset import Dataset
from neuralab.data.facts import DatasetInfo
from neuralab.data.paths import data_root
from neuralab.errors import DataError
from neuralab.text import text_table


@dataclass(frozen=True)
class Entry:
    """How to load, probe (for ``status``) and download one dataset; each takes the data root.
    ``info(**options)`` gives its facts (the options are the loader's, e.g. emnist ``split``)."""

    name: str
    summary: str
    load: Callable[..., Dataset]
    probe: Callable[[Path], dict] | None
    download: Callable[[Path], Path] | None
    info: Callable[..., DatasetInfo] | None = None




REGISTRY: dict[str, Entry] = {e.name: e for e in [
    Entry("cifar10", "CIFAR-10, 32x32 RGB, 10 classes (python batches or image folders)",
          cifar10.load, cifar10.probe, cifar10.download, lambda: cifar10.INFO),
    Entry("mnist", "MNIST digits, 28x28 gray (idx)", mnist.load_mnist,
          lambda root: mnist.probe_spec(mnist.MNIST, root),
          lambda root: mnist.download_spec(mnist.MNIST, root), mnist.MNIST.info),
    Entry("fashion-mnist", "Fashion-MNIST, 28x28 gray, 10 classes (idx)",
          mnist.load_fashion_mnist, lambda root: mnist.probe_spec(mnist.FASHION_MNIST, root),
          lambda root: mnist.download_spec(mnist.FASHION_MNIST, root),
          mnist.FASHION_MNIST.info),
    Entry("emnist", "EMNIST (split=byclass|bymerge|balanced|letters|digits|mnist), 28x28 gray",
          emnist.load, emnist.probe, emnist.download, emnist.info),
    Entry("chars36", "digits + uppercase from EMNIST ByClass, 32x32 gray, train/val/test",
          emnist.load_chars36, emnist.probe_chars36, emnist.download, emnist.chars36_info),
    Entry("nist36", "NIST36 from the 16-720 hw5 .mat files, 32x32 gray, A-Z then 0-9",
          nist36.load, nist36.probe, nist36.download, lambda: nist36.INFO),
    Entry("flowers17", "Oxford Flowers-17 (size=224), RGB, train/val/test",
          flowers17.load, flowers17.probe, flowers17.download, flowers17.info),
    Entry("digits", "scikit-learn's 8x8 digits (embedded), train/val/test",
          digits.load, digits.probe, digits.download, lambda: digits.INFO),
    Entry("image-folder", "any path=DIR/<split>/<class>/*.png|jpg tree (or train/ only)",
          image_folder.load, None, None, image_folder.info),
]}


def dataset_names() -> list[str]:
    """The names :func:`load` accepts."""
    return list(REGISTRY)


def is_folder_name(name: str | os.PathLike) -> bool:
    """True when ``name`` means an image folder: not a registered name, and an existing
    folder or a path with a separator."""
    text = os.fspath(name)
    return text not in REGISTRY and (os.sep in text or "/" in text or Path(text).is_dir())


def load_options(name: str | os.PathLike, *, size: int, mode: str,
                 native: str | tuple[str, ...] | None = None) -> dict[str, object]:
    """The :func:`load` options that give an experiment the images its network takes,
    ``size`` x ``size`` in ``mode`` ("RGB" or "L").

    Datasets stored at that shape load as they are (``{}``): the ``native`` names (the
    registered datasets the experiment is written for), or, when ``native`` is None, every
    registered dataset. Anything else (a user's image folder) is read at that shape:
    ``{"size": size, "mode": mode}`` (a registered dataset that takes no such options is then
    refused by :func:`load` in one line).
    """
    if native is None:
        stored = not is_folder_name(name)
    else:
        stored = os.fspath(name) in ((native,) if isinstance(native, str) else native)
    return {} if stored else {"size": size, "mode": mode}


def entry(name: str) -> Entry:
    if name not in REGISTRY:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(REGISTRY)}, or "
                        "give a folder DIR/<split>/<class>/*.png|jpg")
    return REGISTRY[name]


def _bind(name: str, fn: Callable, *args, **options) -> None:
    try:
        inspect.signature(fn).bind(*args, **options)
    except TypeError:
        accepted = [p for p in inspect.signature(fn).parameters if p != "root"]
        raise DataError(f"{name} does not take option(s) {', '.join(options)}; it accepts "
                        f"{', '.join(accepted) or 'none'}") from None


def load(name: str | os.PathLike, data_dir: str | os.PathLike | None = None,
         **options) -> Dataset:
    """Load dataset ``name`` from the data root (see :func:`data_root`), cached after once.

    ``name`` may be a folder path (an image folder, see the module doc). Options per dataset:
    emnist ``split=``; chars36/digits ``seed=``; flowers17 ``size=`` (default 224),
    ``split_id=``, ``seed=``; image-folder ``path=``, ``size=``, ``mode=``, ``seed=``,
    ``val_fraction=``, ``test_fraction=``. A copy that is incomplete (a split or class
    missing, wrong counts) is refused with a one-line :class:`DataError`.
    """
    if is_folder_name(name):
        options = {"path": os.fspath(name), **options}
        name = "image-folder"
    e = entry(os.fspath(name))
    _bind(e.name, e.load, data_root(data_dir), **options)
    return e.load(data_root(data_dir), **options)


def info(name: str | os.PathLike, data_dir: str | os.PathLike | None = None,
         **options) -> DatasetInfo:
    """The facts of dataset ``name`` (classes, ``(C, H, W)``, normalisations, expected counts)
    without loading it. It takes the loader's options (so ``info(name, **run_options)`` works)
    and uses those that change the facts (emnist ``split=``, flowers17 ``size=``).

    For a folder path the classes come from its folders, and the shape and the train split's
    mean/std are measured on its images (it is loaded: decoded once and cached).
    """
    if is_folder_name(name):
        options = {"path": os.fspath(name), **options}
        name = "image-folder"
    e = entry(os.fspath(name))
    if e.info is None:
        raise DataError(f"no facts recorded for {e.name}")
    _bind(e.name, e.load, data_root(data_dir), **options)  # the loader's options are valid
    if e.name == "image-folder":
        return e.info(data_root(data_dir), **options)
    takes = inspect.signature(e.info).parameters
    return e.info(**{k: v for k, v in options.items() if k in takes})


def status(data_dir: str | os.PathLike | None = None) -> list[dict]:
    """One row per dataset: name, path (None if missing), format, verified, counts, note.

    Cheap: counts come from file headers, file counts or cache metadata, and ``verified``
    from remembered checksums (None until a first load has hashed the files).
    """
    root = data_root(data_dir)
    rows = []
    for e in REGISTRY.values():
        if e.probe is None:
            continue
        try:
            rows.append(e.probe(root))
        except (DataError, OSError) as err:
            rows.append({"name": e.name, "path": None, "format": "", "verified": False,
                         "counts": {}, "note": str(err)})
    return rows


def format_status_table(rows: list[dict]) -> str:
    """A plain-text table of :func:`status` rows for ``neuralab data status``."""
    header = ["dataset", "found", "format", "verified", "train", "val", "test", "path"]
    mark = {True: "yes", False: "no", None: "not yet"}
    table = []
    for row in rows:
        counts = row.get("counts") or {}
        found = row.get("path") is not None
        table.append([row["name"], "yes" if found else "no", row.get("format") or "-",
                      mark[row.get("verified")] if found else "-",
                      *(f"{counts[s]:,}" if s in counts else "-" for s in ("train", "val", "test")),
                      row.get("path") or "-"])
    lines = text_table(header, table, rule=True)
    notes = [f"{row['name']}: {row['note']}" for row in rows if row.get("note")]
    return "\n".join(lines + ([""] + notes if notes else []))


def download(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Download ``name`` into the data root (official URL + mirrors, verified, atomic)."""
    e = entry(name)
    if e.download is None:
        raise DataError(f"{name} cannot be downloaded: point path= at your own folder tree")
    return e.download(data_root(data_dir))
