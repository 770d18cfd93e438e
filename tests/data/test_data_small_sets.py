"""NIST36 (.mat), Flowers-17 (jpg folder), digits (embedded) and generic image folders."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from data_builders import glyph, make_flowers, make_image_tree, make_nist36

from neuralab.data import flowers17, load, status
from neuralab.errors import DataError


def test_nist36_upright_dark_on_white_with_file_class_order(tmp_path):
    labels = make_nist36(tmp_path / "nist36", n=36)
    ds = load("nist36", tmp_path)
    assert ds.counts() == {"train": 36, "val": 36, "test": 36}
    assert ds.classes[:3] == ["A", "B", "C"] and ds.classes[26:29] == ["0", "1", "2"]
    image = ds.splits["val"].images[0, :, :, 0]
    assert ds.splits["val"].images.shape == (36, 32, 32, 1)
    np.testing.assert_array_equal(image[2:30, 2:30], 255 - glyph())  # upright, ink dark
    assert image[0, 0] == 255
    np.testing.assert_array_equal(ds.splits["test"].labels, labels["test"])
    assert not ds.source.verified and "dark ink on white" in ds.source.note


def test_nist36_wrong_shapes_are_reported(tmp_path):
    make_nist36(tmp_path / "nist36")
    scipy.io.savemat(tmp_path / "nist36" / "nist36_test.mat",
                     {"test_data": np.zeros((3, 100)), "test_labels": np.zeros((3, 36))})
    with pytest.raises(DataError, match="nist36_test.mat"):
        load("nist36", tmp_path)


def test_nist36_missing(tmp_path):
    with pytest.raises(DataError, match="nist36_"):
        load("nist36", tmp_path)


@pytest.fixture(scope="module")
def flowers_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("flowers-root")
    make_flowers(root / "flowers17")
    return root


def test_flowers17_labels_and_stratified_split(flowers_root):
    ds = load("flowers17", flowers_root, size=16)
    assert ds.counts() == {"train": 680, "val": 340, "test": 340}
    assert ds.classes[0] == "Daffodil" and ds.classes[-1] == "Pansy" and len(ds.classes) == 17
    for split in ds.splits.values():
        assert split.images.shape[1:] == (16, 16, 3)
        counts = np.bincount(split.labels, minlength=17)
        assert counts.min() == counts.max()
    train = ds.splits["train"]
    # class k images were drawn with red = 15 k (JPEG: approximately)
    reds = train.images[:, 8, 8, 0].astype(int)
    assert np.abs(reds - 15 * train.labels).max() <= 6
    assert "seed 0" in ds.source.note and ds.source.checksum.startswith("sha256:")
    again = load("flowers17", flowers_root, size=16)
    np.testing.assert_array_equal(again.splits["val"].labels, ds.splits["val"].labels)


def test_flowers17_uses_official_datasplits(flowers_root, tmp_path):
    root = tmp_path / "root"
    (root / "flowers17").mkdir(parents=True)
    (root / "flowers17" / "jpg").symlink_to(flowers_root / "flowers17" / "jpg")
    trn = np.arange(1, 1361, 2)
    val = np.arange(2, 1361, 4)
    tst = np.arange(4, 1361, 4)
    scipy.io.savemat(root / "flowers17" / "datasplits.mat",
                     {f"{k}{i}": v[None, :] for k, v in (("trn", trn), ("val", val), ("tst", tst))
                      for i in (1, 2, 3)})
    ds = load("flowers17", root, size=12)
    assert ds.counts() == {"train": 680, "val": 340, "test": 340}
    np.testing.assert_array_equal(ds.splits["train"].labels, (trn - 1) // 80)
    assert "official datasplits.mat" in ds.source.note


def test_flowers17_incomplete_folder(tmp_path):
    jpg = tmp_path / "flowers17" / "jpg"
    jpg.mkdir(parents=True)
    (jpg / "image_0001.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="1 of 1360"):
        load("flowers17", tmp_path)
    row = next(r for r in status(tmp_path) if r["name"] == "flowers17")
    assert "1 of 1360" in row["note"]


def test_flowers17_rejects_bad_size(flowers_root):
    with pytest.raises(DataError, match="size"):
        flowers17.load(flowers_root, size=2)


def test_digits_embedded():
    ds = load("digits")
    assert ds.counts() == {"train": 1078, "val": 359, "test": 360}
    train = ds.splits["train"]
    assert train.images.shape[1:] == (8, 8, 1) and train.images.dtype == np.uint8
    assert train.images.max() == 255
    assert ds.source.verified and "embedded" in ds.source.note


def test_image_folder_grayscale_png(tmp_path):
    make_image_tree(tmp_path / "tree", splits=("train", "val", "test"), classes=("x", "y", "z"),
                    per_class=2, size=(6, 5), mode="L")
    ds = load("image-folder", path=tmp_path / "tree")
    assert ds.counts() == {"train": 6, "val": 6, "test": 6}
    assert ds.splits["val"].images.shape == (6, 5, 6, 1)
    assert ds.classes == ["x", "y", "z"]
    assert ds.splits["train"].labels.tolist() == [0, 0, 1, 1, 2, 2]


def test_image_folder_mixed_sizes_need_size(tmp_path):
    make_image_tree(tmp_path / "tree", classes=("a",), size=(6, 6))
    make_image_tree(tmp_path / "tree", classes=("b",), size=(9, 7))
    with pytest.raises(DataError, match="one size"):
        load("image-folder", path=tmp_path / "tree")
    ds = load("image-folder", path=tmp_path / "tree", size=4)
    assert ds.splits["train"].images.shape == (6, 4, 4, 3)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="path="):
        load("image-folder")
    with pytest.raises(DataError, match="does not exist"):
        load("image-folder", path=tmp_path / "nope")
    (tmp_path / "empty" / "train" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        load("image-folder", path=tmp_path / "empty")
    make_image_tree(tmp_path / "bad")
    bad = tmp_path / "bad" / "train" / "a" / "0001.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(DataError) as err:
        load("image-folder", path=tmp_path / "bad")
    assert str(err.value) == (f"corrupt image file {bad}: not a readable PNG or JPEG image; "
                              "replace or remove it")
