"""The public API: names, roots, options, status table, splits helper."""

from __future__ import annotations

import numpy as np
import pytest
from data_builders import make_mnist

from neuralab.data import (
    Dataset,
    DataSource,
    Split,
    cache_dir,
    data_root,
    dataset_names,
    format_status_table,
    load,
    mnist,
    status,
)
from neuralab.data.splits import hold_out, stratified_indices, stratified_subset
from neuralab.errors import DataError, NeuralabError


def test_dataset_names():
    assert set(dataset_names()) >= {"cifar10", "mnist", "fashion-mnist", "emnist", "chars36",
                                    "nist36", "flowers17", "digits", "image-folder"}


def test_roots_follow_arguments_then_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NEURALAB_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("NEURALAB_DATA")
    assert str(data_root()).endswith(".cache/neuralab")
    monkeypatch.setenv("NEURALAB_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("NEURALAB_CACHE")
    assert str(cache_dir()).endswith(".cache/neuralab/cache")


def test_unknown_name_and_option():
    with pytest.raises(DataError, match="unknown dataset 'cifar100'"):
        load("cifar100")
    with pytest.raises(DataError, match="does not take option"):
        load("digits", size=3)


def test_status_rows_and_table(tmp_path, monkeypatch):
    _, table = make_mnist(tmp_path / "mnist", n_train=20, n_test=10)
    monkeypatch.setattr(mnist.MNIST, "md5", table)
    rows = {r["name"]: r for r in status(tmp_path)}
    assert rows["mnist"]["counts"] == {"train": 20, "test": 10}
    assert rows["mnist"]["verified"] is None and rows["cifar10"]["path"] is None
    load("mnist", tmp_path)
    rows = status(tmp_path)
    assert next(r for r in rows if r["name"] == "mnist")["verified"] is True
    text = format_status_table(rows)
    assert "mnist" in text and "20" in text and "not yet" not in text.split("\n")[2]


def test_load_reads_neuralab_data(tmp_path, monkeypatch):
    _, table = make_mnist(tmp_path / "mnist")
    monkeypatch.setattr(mnist.MNIST, "md5", table)
    monkeypatch.setenv("NEURALAB_DATA", str(tmp_path))
    assert load("mnist").counts()["train"] == 30


def test_cache_is_never_written_into_the_data_root(tmp_path, monkeypatch):
    _, table = make_mnist(tmp_path / "root" / "mnist")
    monkeypatch.setattr(mnist.MNIST, "md5", table)
    before = sorted(p.name for p in (tmp_path / "root").rglob("*"))
    (tmp_path / "root" / "mnist").chmod(0o555)
    try:
        load("mnist", tmp_path / "root")
    finally:
        (tmp_path / "root" / "mnist").chmod(0o755)
    assert sorted(p.name for p in (tmp_path / "root").rglob("*")) == before
    assert any(cache_dir().rglob("*.npy"))


def test_describe_and_split_access():
    images = np.zeros((3, 2, 2, 1), np.uint8)
    ds = Dataset("toy", {"train": Split(images, [0, 1, 1])}, ["a", "b"],
                 DataSource("toy", "/x", "fmt", "md5:00", True, "a note"))
    line = ds.describe()
    assert "toy: train 3" in line and "2x2x1" in line and "a note" in line and "\n" not in line
    assert ds.counts() == {"train": 3}
    with pytest.raises(DataError, match="has no 'test' split"):
        ds["test"]
    with pytest.raises(ValueError):
        Split(np.zeros((3, 2, 2), np.uint8), np.zeros(3))


def test_stratified_indices_partition_every_class():
    labels = np.repeat(np.arange(4), [10, 20, 7, 3])
    parts = stratified_indices(labels, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=5)
    joined = np.sort(np.concatenate(list(parts.values())))
    np.testing.assert_array_equal(joined, np.arange(len(labels)))
    assert np.bincount(labels[parts["train"]]).tolist() == [6, 12, 4, 2]
    again = stratified_indices(labels, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=5)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)


def _labelled(counts) -> Split:
    labels = np.repeat(np.arange(len(counts)), counts)
    return Split(np.arange(len(labels), dtype=np.uint8).reshape(-1, 1, 1, 1), labels)


def test_stratified_subset_keeps_each_class_in_proportion_and_the_order():
    split = _labelled([10, 20, 30])
    sub = stratified_subset(split, 6)
    assert np.bincount(sub.labels).tolist() == [1, 2, 3]
    assert np.all(np.diff(sub.images.ravel().astype(int)) > 0)  # source order kept
    assert stratified_subset(split, None) is split and stratified_subset(split, 60) is split
    with pytest.raises(NeuralabError, match=r"^train_subset=1 keeps no example of 60 "):
        stratified_subset(split, 1)


def test_hold_out_splits_each_class_and_refuses_an_empty_side():
    split = _labelled([10, 20, 30])
    rest, held = hold_out(split, 12, seed=0)
    assert np.bincount(held.labels).tolist() == [2, 4, 6]
    assert np.bincount(rest.labels).tolist() == [8, 16, 24]
    assert sorted([*rest.images.ravel(), *held.images.ravel()]) == list(range(60))
    for n in (60, 1000):
        with pytest.raises(NeuralabError, match=rf"^num_validation={n} leaves 60 held-out and 0 "
                           r"training examples of 60; use 0 < num_validation < 60"):
            hold_out(split, n, setting="num_validation")


def test_validation_split_uses_the_datasets_own_else_holds_out_capped_for_folders():
    from neuralab.data import validation_split

    train = _labelled([10, 20, 30])
    source = DataSource(name="t", path="t", format="npy", checksum="", verified=False)
    own = Dataset("t", {"train": train, "val": _labelled([2, 2, 2]), "test": train},
                  ["a", "b", "c"], source)
    assert validation_split(own, 12, "val_size")[1] is own.splits["val"]
    plain = Dataset("t", {"train": train, "test": train}, ["a", "b", "c"], source)
    assert len(validation_split(plain, 12, "val_size")[1].labels) == 12
    _, capped = validation_split(plain, 12, "val_size", user_folder=True)
    assert len(capped.labels) == 6  # a tenth of a user's 60 training images


def test_load_options_read_a_folder_at_the_networks_shape(tmp_path):
    from neuralab.data import load_options

    assert load_options("cifar10", size=32, mode="RGB") == {}
    assert load_options(str(tmp_path), size=32, mode="RGB") == {"size": 32, "mode": "RGB"}
    assert load_options("mnist", size=32, mode="RGB", native="cifar10") == {"size": 32,
                                                                            "mode": "RGB"}
    assert load_options("nist36", size=32, mode="L", native=("chars36", "nist36")) == {}


def test_damaged_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    arrays, table = make_mnist(tmp_path / "mnist")
    monkeypatch.setattr(mnist.MNIST, "md5", table)
    load("mnist", tmp_path)
    for npy in cache_dir().rglob("train-images.npy"):
        npy.write_bytes(npy.read_bytes()[:100])
    again = load("mnist", tmp_path)
    np.testing.assert_array_equal(again.splits["train"].images[..., 0], arrays["train"][0])
    assert load("mnist", tmp_path).counts() == {"train": 30, "test": 10}
