"""Tiny datasets written on the fly in the exact official file formats."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image

MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array (magic 0x0803 for 3-D, 0x0801 for 1-D)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path: Path, array: np.ndarray) -> str:
    """Write an IDX file (gzipped when the name ends in .gz); returns md5 of the idx bytes."""
    data = idx_bytes(array)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return md5(data)


def glyph(size: int = 28) -> np.ndarray:
    """An upright "F": asymmetric under transposes and flips. uint8 [size, size]."""
    g = np.zeros((size, size), np.uint8)
    g[4:size - 4, 6:9] = 255             # vertical bar on the left
    g[4:7, 6:size - 6] = 255             # top bar
    g[12:15, 6:size - 10] = 255          # middle bar
    return g


def make_mnist(folder: Path, *, n_train: int = 30, n_test: int = 10, gz: bool = True,
               seed: int = 0) -> tuple[dict, dict]:
    """MNIST-format files in ``folder``; returns ({split: (images, labels)}, md5 table)."""
    rng = np.random.default_rng(seed)
    arrays, table = {}, {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        img_name, lab_name = MNIST_FILES[split]
        suffix = ".gz" if gz else ""
        table[img_name] = write_idx(folder / (img_name + suffix), images)
        table[lab_name] = write_idx(folder / (lab_name + suffix), labels)
        arrays[split] = (images, labels)
    return arrays, table


def expect_sizes(monkeypatch, owner, *, counts=None, per_class=None, attr: str = "INFO"):
    """Make a loader expect a small fixture's split sizes instead of the real dataset's.

    ``owner``: a module whose ``INFO`` is a DatasetInfo (cifar10, nist36), or an IdxSpec
    (``mnist.MNIST``: its ``counts``/``per_class`` fields).
    """
    if hasattr(owner, "md5"):  # an IdxSpec
        monkeypatch.setattr(owner, "counts", dict(counts or {}))
        monkeypatch.setattr(owner, "per_class", dict(per_class or {}))
        return
    facts = dataclasses.replace(getattr(owner, attr), counts=dict(counts or {}),
                                per_class=dict(per_class or {}))
    monkeypatch.setattr(owner, attr, facts)


def make_cifar_batches(folder: Path, *, per_batch: int = 10, seed: int = 0) -> tuple[dict, dict]:
    """CIFAR-10 python batches (py3 pickles, ``data``/``labels``) + batches.meta; md5 table.

    Each batch holds ``per_batch // 10`` images of every class (shuffled): with the default 10,
    train has 5 per class and test 1, the real 5,000 / 1,000 scaled down.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    table, arrays = {}, {"train": [], "test": []}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        images = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
        labels = [int(v) for v in rng.permutation(np.arange(per_batch) % 10)]
        flat = images.transpose(0, 3, 1, 2).reshape(per_batch, 3072)  # channel planes, row-major
        blob = pickle.dumps({b"batch_label": name.encode(), b"labels": labels, b"data": flat,
                             b"filenames": [b"x.png"] * per_batch}, protocol=2)
        (folder / name).write_bytes(blob)
        table[name] = md5(blob)
        arrays["test" if name == "test_batch" else "train"].append((images, labels))
    meta = pickle.dumps({b"label_names": [n.encode() for n in CIFAR_CLASSES],
                         b"num_cases_per_batch": per_batch, b"num_vis": 3072}, protocol=2)
    (folder / "batches.meta").write_bytes(meta)
    table["batches.meta"] = md5(meta)
    return {k: (np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v]))
            for k, v in arrays.items()}, table


CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck"]


def make_image_tree(root: Path, *, splits=("train", "test"), classes=("a", "b"), per_class=3,
                    size=(8, 6), mode="RGB", ext="png", seed=0) -> dict:
    """``root/split/class/NNNN.ext`` images; returns {split: [(class, array), ...]}."""
    rng = np.random.default_rng(seed)
    written = {}
    for split in splits:
        written[split] = []
        for cls in classes:
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                channels = 3 if mode == "RGB" else 1
                array = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
                image = Image.fromarray(array if channels == 3 else array[..., 0], mode)
                image.save(root / split / cls / f"{i:04d}.{ext}")
                written[split].append((cls, array))
    return written


def make_emnist(folder: Path, split: str, parts: dict[str, tuple[np.ndarray, np.ndarray]],
                mapping: list[tuple[int, ...]] | None = None, gz: bool = True) -> dict:
    """EMNIST files: images given upright [N, 28, 28] are stored transposed, as officially."""
    table = {}
    for part, (images, labels) in parts.items():
        suffix = ".gz" if gz else ""
        img = f"emnist-{split}-{part}-images-idx3-ubyte"
        lab = f"emnist-{split}-{part}-labels-idx1-ubyte"
        table[img] = write_idx(folder / (img + suffix), images.transpose(0, 2, 1))
        table[lab] = write_idx(folder / (lab + suffix), labels)
    if mapping is not None:
        (folder / f"emnist-{split}-mapping.txt").write_text(
            "".join(" ".join(map(str, row)) + "\n" for row in mapping))
    return table


def byclass_mapping() -> list[tuple[int, int]]:
    codes = list(range(48, 58)) + list(range(65, 91)) + list(range(97, 123))
    return list(enumerate(codes))


def make_nist36(folder: Path, n: int = 8) -> dict:
    """hw5-style .mat files: float [N, 1024] (transposed 32x32), one-hot [N, 36] labels."""
    import scipy.io

    folder.mkdir(parents=True, exist_ok=True)
    upright = 1.0 - np.pad(glyph(28), 2).astype(np.float64) / 255.0  # dark ink on white
    out = {}
    for part in ("train", "valid", "test"):
        labels = np.arange(n) % 36
        onehot = np.eye(36)[labels]
        data = np.repeat(upright.T.reshape(1, 1024), n, axis=0)
        scipy.io.savemat(folder / f"nist36_{part}.mat",
                         {f"{part}_data": data, f"{part}_labels": onehot})
        out[part] = labels
    return out


def make_flowers(folder: Path, size=(20, 14)) -> None:
    """1,360 tiny JPEGs ``image_0001.jpg``..., coloured by class (80 per class)."""
    jpg = folder / "jpg"
    jpg.mkdir(parents=True, exist_ok=True)
    for i in range(1360):
        shade = (i // 80) * 15
        Image.new("RGB", size, (shade, 255 - shade, 128)).save(jpg / f"image_{i + 1:04d}.jpg")
