"""Fixtures shared by tests in several folders."""

import numpy as np
import pytest
import torch

import neuralab.data
from neuralab.data import Dataset, DataSource, Split


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def cifar_blobs_dataset(seed: int = 0, train_per_class: int = 40,
                        test_per_class: int = 10) -> Dataset:
    """CIFAR-shaped synthetic data: each class a fixed random 32x32 picture plus noise
    (learnable in a few steps)."""
    rng = np.random.default_rng(seed)
    templates = rng.uniform(0, 255, (10, 32, 32, 3))
    splits = {}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        labels = np.repeat(np.arange(10), per_class)
        images = np.rint(0.6 * templates[labels] + 0.4 * rng.uniform(0, 255, (len(labels), 32,
                                                                               32, 3)))
        splits[split] = Split(images.astype(np.uint8), labels)
    return Dataset("cifar10", splits, [f"c{i}" for i in range(10)],
                   DataSource("cifar10", "synthetic", "test", "sha256:0", False, "synthetic"))


@pytest.fixture
def cifar_blobs(monkeypatch):
    """``neuralab.data.load`` returns :func:`cifar_blobs_dataset` whatever it is asked for."""
    monkeypatch.setattr(neuralab.data, "load",
                        lambda name, data_dir=None, **kw: cifar_blobs_dataset(0))
