"""Image folders as first-class datasets: load(PATH), derived splits, modes, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from data_builders import make_image_tree
from PIL import Image

from neuralab.data import info, load
from neuralab.errors import DataError


def test_a_path_is_a_dataset_with_sorted_folder_classes(tmp_path):
    make_image_tree(tmp_path / "pets", classes=("dog", "cat", "emu"), per_class=2)
    ds = load(tmp_path / "pets")
    assert ds.classes == ["cat", "dog", "emu"]
    assert ds.counts() == {"train": 6, "test": 6}
    assert ds.splits["train"].labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert ds.source.path == str(tmp_path / "pets") and not ds.source.derived
    assert ds.source.format == "image-folder (png)" and not ds.source.verified
    assert load(str(tmp_path / "pets")).source.checksum == ds.source.checksum  # a str path too


def test_a_relative_path_under_the_data_root(tmp_path):
    make_image_tree(tmp_path / "root" / "pets")
    ds = load("image-folder", data_dir=tmp_path / "root", path="pets")
    assert ds.counts() == {"train": 6, "test": 6}


def test_train_only_gets_a_seeded_stratified_val_and_test_split(tmp_path):
    make_image_tree(tmp_path / "tree", splits=("train",), classes=("a", "b"), per_class=20)
    ds = load(tmp_path / "tree")
    assert ds.counts() == {"train": 28, "val": 6, "test": 6}
    for split in ds.splits.values():
        assert np.bincount(split.labels).tolist() == [len(split) // 2] * 2
    record = ds.source.derived
    assert record == {"from": "train", "fractions": {"val": 0.15, "test": 0.15}, "seed": 0,
                      "stratified": True, "counts": {"train": 28, "val": 6, "test": 6}}
    assert "no test/ folder: val and test cut from train/, 0.15 / 0.15 of each class, seed 0" \
        in ds.source.note
    # every image lands in exactly one split
    flat = np.concatenate([s.images.reshape(len(s), -1) for s in ds.splits.values()])
    assert len(np.unique(flat, axis=0)) == 40
    # deterministic, and the seed changes it
    again = load(tmp_path / "tree")
    np.testing.assert_array_equal(again["test"].images, ds["test"].images)
    other = load(tmp_path / "tree", seed=1)
    assert other.source.derived["seed"] == 1
    assert not np.array_equal(other["test"].images, ds["test"].images)
    small = load(tmp_path / "tree", val_fraction=0.1, test_fraction=0.25)
    assert small.counts() == {"train": 26, "val": 4, "test": 10}


def test_a_given_val_folder_is_kept_and_only_test_is_cut(tmp_path):
    make_image_tree(tmp_path / "tree", splits=("train", "valid"), classes=("a", "b"),
                    per_class=10)
    ds = load(tmp_path / "tree")
    assert ds.counts() == {"train": 16, "val": 20, "test": 4}  # "valid" is called "val"
    assert ds.source.derived["fractions"] == {"test": 0.15}


def test_class_folders_without_split_folders_are_train_only(tmp_path):
    make_image_tree(tmp_path, splits=("flat",), classes=("a", "b"), per_class=4)
    ds = load(tmp_path / "flat")
    assert ds.classes == ["a", "b"] and ds.counts() == {"train": 4, "val": 2, "test": 2}


def test_small_classes_cannot_be_split(tmp_path):
    make_image_tree(tmp_path / "tree", splits=("train",), classes=("a", "b"), per_class=2)
    with pytest.raises(DataError) as err:
        load(tmp_path / "tree")
    assert str(err.value) == (f"image folder {tmp_path / 'tree'} has no test/ folder, and class "
                              "a (2), b (2) has too few images to hold out val and test (need "
                              "at least 3 a class)")


def test_no_train_folder_is_one_line(tmp_path):
    make_image_tree(tmp_path / "tree", splits=("test",))
    with pytest.raises(DataError) as err:
        load(tmp_path / "tree")
    assert str(err.value) == (f"image folder {tmp_path / 'tree'} has no train/ folder (it has "
                              f"test/); expected {tmp_path / 'tree'}/train/<class>/*.png|jpg")


def test_an_empty_class_in_one_split_is_named(tmp_path):
    make_image_tree(tmp_path / "tree", classes=("a", "b", "c"))
    for f in (tmp_path / "tree" / "test" / "b").iterdir():
        f.unlink()
    with pytest.raises(DataError) as err:
        load(tmp_path / "tree")
    assert str(err.value) == (f"incomplete image folder in {tmp_path / 'tree'}: test has no "
                              "image of class b")


def test_a_class_missing_from_one_split_is_named(tmp_path):
    make_image_tree(tmp_path / "tree", splits=("train",), classes=("a", "b", "c"))
    make_image_tree(tmp_path / "tree", splits=("test",), classes=("a", "c"))
    with pytest.raises(DataError, match=r"test has no image of class b$"):
        load(tmp_path / "tree")


def test_one_gray_image_first_does_not_make_the_set_gray(tmp_path):
    written = make_image_tree(tmp_path / "tree", classes=("a", "b"))
    gray = np.full((6, 8), 77, np.uint8)
    Image.fromarray(gray, "L").save(tmp_path / "tree" / "train" / "a" / "0000.jpg")  # sorts 1st
    ds = load(tmp_path / "tree")
    train = ds["train"].images
    assert train.shape == (7, 6, 8, 3) and ds["test"].images.shape == (6, 6, 8, 3)
    assert np.abs(train[0].astype(int) - 77).max() <= 1  # gray replicated into R, G and B
    np.testing.assert_array_equal(train[1], written["train"][0][1])  # colour PNGs exact
    assert ds.source.format == "image-folder (jpg+png)"


def test_an_all_gray_folder_is_one_channel_and_mode_can_be_forced(tmp_path):
    make_image_tree(tmp_path / "tree", mode="L")
    assert load(tmp_path / "tree")["train"].images.shape == (6, 6, 8, 1)
    assert load(tmp_path / "tree", mode="RGB")["train"].images.shape == (6, 6, 8, 3)
    with pytest.raises(DataError, match="mode must be one of auto, RGB, L"):
        load(tmp_path / "tree", mode="CMYK")


def test_gray_test_and_colour_train_agree_on_three_channels(tmp_path):
    make_image_tree(tmp_path / "tree", splits=("train",), mode="RGB")
    make_image_tree(tmp_path / "tree", splits=("test",), mode="L")
    ds = load(tmp_path / "tree")
    assert ds["train"].images.shape[-1] == 3 and ds["test"].images.shape[-1] == 3


def test_resize_to_a_common_size(tmp_path):
    make_image_tree(tmp_path / "tree", classes=("a",), size=(12, 10))
    make_image_tree(tmp_path / "tree", classes=("b",), size=(20, 16))
    with pytest.raises(DataError, match="pass size=N to resize them"):
        load(tmp_path / "tree")
    ds = load(tmp_path / "tree", size=8)
    assert ds["train"].images.shape == (6, 8, 8, 3)


def test_a_decompression_bomb_is_one_line_naming_the_file(tmp_path):
    """Issue 20 item 4: a 14000x14000 image raised PIL's DecompressionBombError."""
    make_image_tree(tmp_path / "tree")
    big = tmp_path / "tree" / "train" / "b" / "0001.png"
    Image.new("1", (14000, 14000)).save(big)  # 196 M pixels, 24 MB in memory, tiny on disk
    with pytest.raises(DataError) as err:
        load(tmp_path / "tree")
    message = str(err.value)
    assert message.startswith(f"image {big} is too large to decode safely (Image size "
                              "(196000000 pixels) exceeds limit of")
    assert message.endswith("; remove it from the dataset folder or shrink it")
    assert "\n" not in message


def test_a_large_image_under_the_limit_warns_in_one_line(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)  # 48-pixel images: a warning, not 2x
    make_image_tree(tmp_path / "tree", classes=("a",), per_class=1)
    ds = load(tmp_path / "tree")
    assert ds.counts() == {"train": 1, "test": 1}
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "warning" in line]
    assert len(lines) == 2 and all(line.startswith("neuralab: warning: ") for line in lines)
    assert str(tmp_path / "tree" / "train" / "a" / "0000.png") in lines[0]


@pytest.mark.parametrize("damage, text", [
    (lambda b: b[:60], "Truncated File Read"),
    (lambda b: b"GIF89a" + b"\0" * 10, "not a readable PNG or JPEG image"),
])
def test_corrupt_images_name_the_file_not_a_bytesio(tmp_path, damage, text):
    make_image_tree(tmp_path / "tree", ext="jpg")
    path = tmp_path / "tree" / "test" / "b" / "0002.jpg"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError) as err:
        load(tmp_path / "tree")
    message = str(err.value)
    assert message.startswith(f"corrupt image file {path}: ") and text in message
    assert "BytesIO" not in message and "0x" not in message and "\n" not in message


def test_info_of_a_folder_measures_its_train_split(tmp_path):
    make_image_tree(tmp_path / "tree", classes=("b", "a"), mode="L")
    facts = info(tmp_path / "tree")
    data = load(tmp_path / "tree")
    pixels = data["train"].images.astype(np.float64) / 255
    assert facts.classes == ["a", "b"] and facts.num_classes == 2
    assert facts.shape == (1, 6, 8) and facts.counts == {"train": 6, "test": 6}
    assert facts.mean == (round(pixels.mean(), 4),) and facts.std == (round(pixels.std(), 4),)
    assert facts.normalization("train") == (facts.mean, facts.std)
