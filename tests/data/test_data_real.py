"""The real copies under ``$NEURALAB_DATA`` (skipped when it is unset or lacks a dataset).

They use a persistent cache in /tmp (see conftest) so CIFAR-10's 60,000 JPEGs and the
Flowers-17 photos are decoded once per machine; later runs take a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from neuralab.data import load, status


def need(root, *parts):
    if not root.joinpath(*parts).exists():
        pytest.skip(f"{root.joinpath(*parts)} is not there")


def test_real_cifar10(real_root):
    need(real_root, "cifar10")
    ds = load("cifar10", real_root)
    assert ds.counts() == {"train": 50000, "test": 10000}
    for split, per_class in (("train", 5000), ("test", 1000)):
        s = ds.splits[split]
        assert s.images.dtype == np.uint8 and s.images.shape[1:] == (32, 32, 3)
        assert np.bincount(s.labels).tolist() == [per_class] * 10
    if ds.source.format.startswith("image-folder (jpg"):
        assert "JPEG copy" in ds.source.note
    mean = ds.splits["train"].images.mean(axis=(0, 1, 2)) / 255
    np.testing.assert_allclose(mean, [0.4914, 0.4822, 0.4465], atol=2e-3)


def test_real_mnist(real_root):
    need(real_root, "mnist")
    ds = load("mnist", real_root)
    assert ds.counts() == {"train": 60000, "test": 10000}
    assert ds.source.verified
    assert ds.splits["train"].images.shape[1:] == (28, 28, 1)


def test_real_emnist_and_chars36(real_root):
    need(real_root, "emnist", "gzip")
    ds = load("emnist", real_root, split="byclass")
    assert ds.counts()["test"] == 116323 and len(ds.classes) == 62
    chars = load("chars36", real_root)
    assert sum(chars.counts().values()) == 89264
    assert chars.splits["train"].images.shape[1:] == (32, 32, 1)
    counts = np.bincount(np.concatenate([s.labels for s in chars.splits.values()]), minlength=36)
    assert counts[ord("K") - 55] == 382 and counts[ord("O") - 55] == 4156


def test_real_flowers17(real_root):
    need(real_root, "flowers17", "jpg")
    ds = load("flowers17", real_root, size=64)
    assert sum(ds.counts().values()) == 1360 and len(ds.classes) == 17
    assert ds.splits["test"].images.shape[1:] == (64, 64, 3)


def test_real_status(real_root):
    rows = {r["name"]: r for r in status(real_root)}
    if rows["mnist"]["path"]:
        assert rows["mnist"]["counts"] == {"train": 60000, "test": 10000}
    if rows["cifar10"]["path"]:
        assert rows["cifar10"]["counts"] == {"train": 50000, "test": 10000}


def test_real_emnist_letters_meets_its_published_sizes(real_root):
    need(real_root, "emnist", "gzip", "emnist-letters-train-labels-idx1-ubyte.gz")
    ds = load("emnist", real_root, split="letters")
    assert ds.counts() == {"train": 124800, "test": 20800}
    assert np.bincount(ds["train"].labels).tolist() == [4800] * 26
    assert ds.source.verified  # the official md5s of the four files
