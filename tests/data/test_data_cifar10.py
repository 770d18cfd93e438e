"""CIFAR-10: official python batches and image-folder copies."""

from __future__ import annotations

import numpy as np
import pytest
from data_builders import CIFAR_CLASSES, make_cifar_batches, make_image_tree

from neuralab.data import cifar10, images, load, status
from neuralab.errors import DataError


@pytest.fixture
def batches_root(tmp_path, monkeypatch):
    arrays, table = make_cifar_batches(tmp_path / "cifar10" / "cifar-10-batches-py")
    monkeypatch.setattr(cifar10, "MD5", table)
    return tmp_path, arrays


def test_batches_load_upright_hwc(batches_root):
    root, arrays = batches_root
    ds = load("cifar10", root)
    assert ds.counts() == {"train": 30, "test": 6}
    train = ds.splits["train"]
    assert train.images.shape == (30, 32, 32, 3) and train.images.dtype == np.uint8
    np.testing.assert_array_equal(train.images, arrays["train"][0])
    np.testing.assert_array_equal(train.labels, arrays["train"][1])
    assert ds.classes == CIFAR_CLASSES
    assert ds.source.format == "cifar10-python" and ds.source.verified
    assert set(ds.source.files) == set(cifar10.MD5)


def test_torchvision_location_is_accepted(tmp_path, monkeypatch):
    _, table = make_cifar_batches(tmp_path / "cifar-10-batches-py")
    monkeypatch.setattr(cifar10, "MD5", table)
    assert load("cifar10", tmp_path).source.path == str(tmp_path / "cifar-10-batches-py")


def test_the_batches_folder_itself_is_accepted_as_the_root(tmp_path, monkeypatch):
    """UvA's ``--data_dir ./cifar10/cifar-10-batches-py`` names the batches folder."""
    folder = tmp_path / "my-batches"
    arrays, table = make_cifar_batches(folder)
    monkeypatch.setattr(cifar10, "MD5", table)
    ds = load("cifar10", folder)
    assert ds.source.path == str(folder) and len(ds["test"].labels) == 6


def test_bad_batch_md5_is_a_one_line_error(batches_root):
    root, _ = batches_root
    path = root / "cifar10" / "cifar-10-batches-py" / "data_batch_3"
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError) as err:
        load("cifar10", root)
    message = str(err.value)
    assert str(path) in message and cifar10.MD5["data_batch_3"] in message
    assert "\n" not in message


def test_missing_batch_is_reported(batches_root):
    root, _ = batches_root
    (root / "cifar10" / "cifar-10-batches-py" / "data_batch_5").unlink()
    with pytest.raises(DataError, match="missing data_batch_5"):
        load("cifar10", root)


def test_missing_cifar_names_places_and_fix(tmp_path):
    with pytest.raises(DataError) as err:
        load("cifar10", tmp_path)
    assert "cifar-10-batches-py" in str(err.value)
    assert "neuralab data download cifar10" in str(err.value)


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_image_folder_copy_uses_the_official_class_order(tmp_path, ext):
    classes = ["truck", "airplane", "cat"]  # sorted names would give another order
    make_image_tree(tmp_path / "cifar10", classes=classes, per_class=2, size=(32, 32), ext=ext)
    ds = load("cifar10", tmp_path)
    assert ds.classes == CIFAR_CLASSES
    assert ds.counts() == {"train": 6, "test": 6}
    labels = ds.splits["train"].labels.tolist()
    assert labels == [0, 0, 3, 3, 9, 9]
    assert ds.source.format == f"image-folder ({ext})" and not ds.source.verified
    assert ds.source.checksum.startswith("sha256:")
    if ext == "jpg":
        assert ds.source.note.startswith("CIFAR-10 (JPEG copy): lossy JPEG")


def test_png_copy_is_pixel_exact(tmp_path):
    written = make_image_tree(tmp_path / "cifar10", classes=["cat"], per_class=2, size=(32, 32))
    ds = load("cifar10", tmp_path)
    np.testing.assert_array_equal(ds.splits["train"].images[1], written["train"][1][1])


def test_unknown_class_folder_is_an_error(tmp_path):
    make_image_tree(tmp_path / "cifar10", classes=["cat", "unicorn"], size=(32, 32))
    with pytest.raises(DataError, match="unicorn"):
        load("cifar10", tmp_path)


def test_image_folder_second_load_does_not_decode(tmp_path, monkeypatch):
    make_image_tree(tmp_path / "cifar10", classes=["cat", "dog"], size=(32, 32), ext="jpg")
    first = load("cifar10", tmp_path)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(images, "decode_one", no_decoding)
    second = load("cifar10", tmp_path)
    np.testing.assert_array_equal(first.splits["test"].images, second.splits["test"].images)
    assert second.source.checksum == first.source.checksum  # the real checksum, from the cache


def test_changed_file_invalidates_the_cache(tmp_path):
    make_image_tree(tmp_path / "cifar10", classes=["cat"], per_class=2, size=(32, 32))
    first = load("cifar10", tmp_path)
    make_image_tree(tmp_path / "cifar10", classes=["cat"], per_class=2, size=(32, 32), seed=1)
    second = load("cifar10", tmp_path)
    assert second.source.checksum != first.source.checksum
    assert not np.array_equal(first.splits["train"].images, second.splits["train"].images)


def test_status_is_cheap_and_right(batches_root, monkeypatch):
    root, _ = batches_root
    row = next(r for r in status(root) if r["name"] == "cifar10")
    assert row["verified"] is None  # not hashed yet
    assert row["counts"] == {"train": 50000, "test": 10000}  # from the format: 10,000 a batch
    load("cifar10", root)
    row = next(r for r in status(root) if r["name"] == "cifar10")
    assert row["verified"] is True and row["format"] == "cifar10-python"
