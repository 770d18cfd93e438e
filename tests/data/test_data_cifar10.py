"""CIFAR-10: official python batches and image-folder copies."""

from __future__ import annotations

import numpy as np
import pytest
from data_builders import CIFAR_CLASSES, expect_sizes, make_cifar_batches, make_image_tree

from neuralab.data import cifar10, images, load, status
from neuralab.errors import DataError

REAL_INFO = cifar10.INFO


@pytest.fixture(autouse=True)
def small_cifar(monkeypatch):
    """The fixtures hold 5 train and 1 test image per class (the real 5,000 / 1,000)."""
    expect_sizes(monkeypatch, cifar10, per_class={"train": 5, "test": 1})


@pytest.fixture
def batches_root(tmp_path, monkeypatch):
    arrays, table = make_cifar_batches(tmp_path / "cifar10" / "cifar-10-batches-py")
    monkeypatch.setattr(cifar10, "MD5", table)
    return tmp_path, arrays


def cifar_tree(root, **kwargs):
    """A CIFAR-10 image-folder copy: 5 train and 1 test image per class, 32x32."""
    kwargs.setdefault("size", (32, 32))
    train = make_image_tree(root, splits=("train",), classes=CIFAR_CLASSES, per_class=5, **kwargs)
    test = make_image_tree(root, splits=("test",), classes=CIFAR_CLASSES, per_class=1, **kwargs)
    return {**train, **test}


def test_batches_load_upright_hwc(batches_root):
    root, arrays = batches_root
    ds = load("cifar10", root)
    assert ds.counts() == {"train": 50, "test": 10}
    train = ds.splits["train"]
    assert train.images.shape == (50, 32, 32, 3) and train.images.dtype == np.uint8
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
    assert ds.source.path == str(folder) and len(ds["test"].labels) == 10


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
    cifar_tree(tmp_path / "cifar10", ext=ext)
    ds = load("cifar10", tmp_path)
    assert ds.classes == CIFAR_CLASSES
    assert ds.counts() == {"train": 50, "test": 10}
    assert ds.splits["train"].labels.tolist() == [c for c in range(10) for _ in range(5)]
    assert ds.splits["test"].images.shape == (10, 32, 32, 3)
    assert ds.source.format == f"image-folder ({ext})" and not ds.source.verified
    assert ds.source.checksum.startswith("sha256:")
    if ext == "jpg":
        assert ds.source.note.startswith("CIFAR-10 (JPEG copy): lossy JPEG")


def test_png_copy_is_pixel_exact(tmp_path):
    written = cifar_tree(tmp_path / "cifar10")
    ds = load("cifar10", tmp_path)
    np.testing.assert_array_equal(ds.splits["train"].images[1], written["train"][1][1])


def test_gray_images_in_a_cifar_copy_are_converted_to_rgb(tmp_path):
    cifar_tree(tmp_path / "cifar10")
    make_image_tree(tmp_path / "cifar10", splits=("train",), classes=["airplane"], per_class=1,
                    size=(32, 32), mode="L")  # overwrites airplane/0000.png with a gray PNG
    ds = load("cifar10", tmp_path)
    first = ds.splits["train"].images[0]
    assert first.shape == (32, 32, 3)
    np.testing.assert_array_equal(first[..., 0], first[..., 2])


def test_unknown_class_folder_is_an_error(tmp_path):
    make_image_tree(tmp_path / "cifar10", classes=["cat", "unicorn"], size=(32, 32))
    with pytest.raises(DataError, match="unicorn"):
        load("cifar10", tmp_path)


def test_three_of_ten_classes_is_refused_in_one_line(tmp_path, monkeypatch):
    """Issue 20 item 4: 3 classes and 600 of 50,000 training images ran and met its target."""
    expect_sizes(monkeypatch, cifar10, per_class={"train": 200, "test": 1})
    make_image_tree(tmp_path / "cifar10", splits=("train",), classes=["airplane", "cat", "ship"],
                    per_class=200, size=(32, 32))
    make_image_tree(tmp_path / "cifar10", splits=("test",), classes=CIFAR_CLASSES, per_class=1,
                    size=(32, 32))

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded before the counts were checked")

    monkeypatch.setattr(images, "decode_one", no_decoding)
    with pytest.raises(DataError) as err:
        load("cifar10", tmp_path)
    message = str(err.value)
    assert message.startswith(f"incomplete cifar10 in {tmp_path / 'cifar10'}: train has 600 "
                              "of 2,000 images; train has no image of 7 of 10 classes: "
                              "automobile, bird, deer, dog, frog, horse and 1 more")
    assert "\n" not in message


def test_real_sizes_are_expected_by_default(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar10, "INFO", REAL_INFO)  # the real 5,000 / 1,000 per class
    cifar_tree(tmp_path / "cifar10")
    with pytest.raises(DataError, match=r"train has 50 of 50,000 images; .*test has 10 of "
                                        r"10,000 images"):
        load("cifar10", tmp_path)


def test_an_emptied_test_class_is_named(tmp_path):
    cifar_tree(tmp_path / "cifar10")
    for f in (tmp_path / "cifar10" / "test" / "dog").iterdir():
        f.unlink()
    with pytest.raises(DataError, match=r"test has 9 of 10 images; test has no image of "
                                        r"class dog$"):
        load("cifar10", tmp_path)


def test_a_short_class_is_named_with_its_count(tmp_path):
    cifar_tree(tmp_path / "cifar10")
    (tmp_path / "cifar10" / "train" / "frog" / "0003.png").unlink()
    with pytest.raises(DataError, match=r"train has 49 of 50 images; train classes not at 5 "
                                        r"images: frog 4$"):
        load("cifar10", tmp_path)


def test_a_missing_test_folder_is_one_line(tmp_path):
    make_image_tree(tmp_path / "cifar10", splits=("train",), classes=CIFAR_CLASSES, per_class=5,
                    size=(32, 32))
    with pytest.raises(DataError, match=r"^incomplete cifar10 in .*cifar10: no test split "
                                        r"\(found: train\)$"):
        load("cifar10", tmp_path)


def test_wrong_image_size_is_refused(tmp_path):
    cifar_tree(tmp_path / "cifar10", size=(16, 16))
    with pytest.raises(DataError, match="images are 16x16x3, expected 32x32x3"):
        load("cifar10", tmp_path)


def test_missing_test_batch_is_reported(batches_root):
    root, _ = batches_root
    (root / "cifar10" / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(DataError, match="missing test_batch"):
        load("cifar10", root)


def test_image_folder_second_load_does_not_decode(tmp_path, monkeypatch):
    cifar_tree(tmp_path / "cifar10", ext="jpg")
    first = load("cifar10", tmp_path)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(images, "decode_one", no_decoding)
    second = load("cifar10", tmp_path)
    np.testing.assert_array_equal(first.splits["test"].images, second.splits["test"].images)
    assert second.source.checksum == first.source.checksum  # the real checksum, from the cache


def test_changed_file_invalidates_the_cache(tmp_path):
    cifar_tree(tmp_path / "cifar10")
    first = load("cifar10", tmp_path)
    cifar_tree(tmp_path / "cifar10", seed=1)
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
