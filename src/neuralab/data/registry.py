"""The dataset registry: ``load``, ``status``, ``download`` by name."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from neuralab.data import cifar10, digits, emnist, flowers17, image_folder, mnist, nist36
from neuralab.data.dataset import Dataset
from neuralab.data.paths import data_root
from neuralab.errors import DataError
from neuralab.text import text_table


@dataclass(frozen=True)
class Entry:
    """How to load, probe (for ``status``) and download one dataset; each takes the data root."""

    name: str
    summary: str
    load: Callable[..., Dataset]
    probe: Callable[[Path], dict] | None
    download: Callable[[Path], Path] | None


REGISTRY: dict[str, Entry] = {e.name: e for e in [
    Entry("cifar10", "CIFAR-10, 32x32 RGB, 10 classes (python batches or image folders)",
          cifar10.load, cifar10.probe, cifar10.download),
    Entry("mnist", "MNIST digits, 28x28 gray (idx)", mnist.load_mnist,
          lambda root: mnist.probe_spec(mnist.MNIST, root),
          lambda root: mnist.download_spec(mnist.MNIST, root)),
    Entry("fashion-mnist", "Fashion-MNIST, 28x28 gray, 10 classes (idx)",
          mnist.load_fashion_mnist, lambda root: mnist.probe_spec(mnist.FASHION_MNIST, root),
          lambda root: mnist.download_spec(mnist.FASHION_MNIST, root)),
    Entry("emnist", "EMNIST (split=byclass|bymerge|balanced|letters|digits|mnist), 28x28 gray",
          emnist.load, emnist.probe, emnist.download),
    Entry("chars36", "digits + uppercase from EMNIST ByClass, 32x32 gray, train/val/test",
          emnist.load_chars36, emnist.probe_chars36, emnist.download),
    Entry("nist36", "NIST36 from the 16-720 hw5 .mat files, 32x32 gray, A-Z then 0-9",
          nist36.load, nist36.probe, nist36.download),
    Entry("flowers17", "Oxford Flowers-17 (size=224), RGB, train/val/test",
          flowers17.load, flowers17.probe, flowers17.download),
    Entry("digits", "scikit-learn's 8x8 digits (embedded), train/val/test",
          digits.load, digits.probe, digits.download),
    Entry("image-folder", "any path=DIR/<split>/<class>/*.png|jpg tree",
          image_folder.load, None, None),
]}


def dataset_names() -> list[str]:
    """The names :func:`load` accepts."""
    return list(REGISTRY)


def entry(name: str) -> Entry:
    if name not in REGISTRY:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def load(name: str, data_dir: str | os.PathLike | None = None, **options) -> Dataset:
    """Load dataset ``name`` from the data root (see :func:`data_root`), cached after once.

    Options per dataset: emnist ``split=``; chars36/digits ``seed=``; flowers17 ``size=``
    (default 224), ``split_id=``, ``seed=``; image-folder ``path=`` (and ``size=``).
    """
    e = entry(name)
    try:
        inspect.signature(e.load).bind(data_root(data_dir), **options)
    except TypeError:
        accepted = [p for p in inspect.signature(e.load).parameters if p != "root"]
        raise DataError(f"{name} does not take option(s) {', '.join(options)}; it accepts "
                        f"{', '.join(accepted) or 'none'}") from None
    return e.load(data_root(data_dir), **options)


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
