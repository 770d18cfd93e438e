"""EMNIST (official gzip layout, transposed storage) and chars36 derived from it."""

from __future__ import annotations

import numpy as np
import pytest
from data_builders import byclass_mapping, glyph, make_emnist

from neuralab.data import cache_dir, emnist, load, status
from neuralab.errors import DataError


@pytest.fixture(autouse=True)
def small_emnist(monkeypatch):
    """The fixtures are tiny: no published split sizes, only "every class in every split"."""
    monkeypatch.setattr(emnist, "COUNTS", {})
    monkeypatch.setattr(emnist, "PER_CLASS", {})


def byclass_parts(n_per_class: int = 10, seed: int = 0):
    """Upright images for labels 0-61 (glyph for label 10, noise elsewhere)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(62), n_per_class).astype(np.uint8)
    images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
    images[labels == 10] = glyph()
    return images, labels


@pytest.fixture
def byclass_root(tmp_path):
    images, labels = byclass_parts()
    make_emnist(tmp_path / "emnist" / "gzip", "byclass", {"test": (images, labels)},
                mapping=byclass_mapping())
    return tmp_path, images, labels


def test_emnist_comes_out_upright(byclass_root):
    root, images, labels = byclass_root
    ds = load("emnist", root, split="byclass")
    test = ds.splits["test"]
    assert list(ds.splits) == ["test"]  # only the files present
    assert test.images.shape == (620, 28, 28, 1) and test.images.dtype == np.uint8
    np.testing.assert_array_equal(test.images[..., 0], images)
    f = test.images[np.flatnonzero(test.labels == 10)[0], :, :, 0]
    assert f[5, 20] == 255 and f[20, 20] == 0  # the F's top bar reaches right, its foot does not
    assert ds.classes[:11] == list("0123456789A") and ds.classes[-1] == "z"
    assert "only the test split" in ds.source.note


def letters_parts(per_class: int = 1):
    labels = np.tile(np.arange(1, 27, dtype=np.uint8), per_class)[::-1].copy()
    return np.zeros((len(labels), 28, 28), np.uint8), labels


def test_emnist_letters_labels_start_at_zero(tmp_path):
    images, labels = letters_parts()
    mapping = [(i, 64 + i, 96 + i) for i in range(1, 27)]
    make_emnist(tmp_path / "emnist" / "gzip", "letters",
                {"train": (images, labels), "test": (images, labels)}, mapping=mapping, gz=False)
    ds = load("emnist", tmp_path, split="letters")
    assert ds.splits["train"].labels.tolist()[:3] == [25, 24, 23]
    assert ds.classes[0] == "Aa" and len(ds.classes) == 26
    assert ds.counts() == {"train": 26, "test": 26}


def test_emnist_split_sizes_are_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(emnist, "PER_CLASS", {"letters": {"train": 2, "test": 1}})
    make_emnist(tmp_path / "emnist" / "gzip", "letters",
                {"train": letters_parts(1), "test": letters_parts(1)})
    with pytest.raises(DataError, match=r"^incomplete emnist in .*gzip: train has 26 of 52 "
                                        r"images; train classes not at 2 images: Aa 1, Bb 1, "
                                        r"Cc 1, Dd 1, Ee 1, Ff 1 and 20 more$"):
        load("emnist", tmp_path, split="letters")


def test_builtin_classes_without_mapping_file(tmp_path):
    labels = np.arange(47, dtype=np.uint8)
    make_emnist(tmp_path / "emnist" / "gzip", "balanced",
                {"test": (np.zeros((47, 28, 28), np.uint8), labels)})
    ds = load("emnist", tmp_path, split="balanced")
    assert len(ds.classes) == 47 and ds.classes[46] == "t"


def test_an_absent_emnist_class_is_named(tmp_path):
    make_emnist(tmp_path / "emnist" / "gzip", "balanced",
                {"test": (np.zeros((2, 28, 28), np.uint8), np.array([0, 46], np.uint8))})
    with pytest.raises(DataError, match=r"test has no image of 45 of 47 classes: 1, 2, 3, 4, "
                                        r"5, 6 and 39 more$"):
        load("emnist", tmp_path, split="balanced")


def test_unknown_split_and_missing_files(tmp_path):
    with pytest.raises(DataError, match="unknown EMNIST split"):
        load("emnist", tmp_path, split="bogus")
    with pytest.raises(DataError, match="neuralab data download emnist"):
        load("emnist", tmp_path, split="digits")


def test_label_out_of_range_is_corrupt(tmp_path):
    make_emnist(tmp_path / "emnist" / "gzip", "digits",
                {"test": (np.zeros((2, 28, 28), np.uint8), np.array([0, 12], np.uint8))})
    with pytest.raises(DataError, match="labels outside"):
        load("emnist", tmp_path, split="digits")


def test_chars36_is_digits_and_uppercase_padded_upright(byclass_root):
    root, _, _ = byclass_root
    ds = load("chars36", root)
    assert ds.classes == list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert sum(ds.counts().values()) == 360  # 36 classes x 10, lowercase dropped
    for split in ds.splits.values():
        assert split.images.shape[1:] == (32, 32, 1) and split.images.dtype == np.uint8
        assert split.labels.max() < 36
    every = np.concatenate([s.images for s in ds.splits.values()])
    labels = np.concatenate([s.labels for s in ds.splits.values()])
    assert not every[:, :2].any() and not every[:, -2:].any()  # 2-pixel zero border
    np.testing.assert_array_equal(every[labels == 10][0, 2:30, 2:30, 0], glyph())
    assert "seed 0" in ds.source.note and "70/15/15" in ds.source.note


def test_chars36_split_is_stratified_and_deterministic(byclass_root, tmp_path, monkeypatch):
    root, _, _ = byclass_root
    first = load("chars36", root)
    for split in ("train", "val", "test"):
        counts = np.bincount(first.splits[split].labels, minlength=36)
        assert counts.min() == counts.max()  # the same share of every class
    assert first.counts() == {"train": 252, "val": 72, "test": 36}  # 7 / 2 / 1 of 10 a class
    monkeypatch.setenv("NEURALAB_CACHE", str(tmp_path / "other-cache"))  # rebuilt from scratch
    again = load("chars36", root)
    for split in first.splits:
        np.testing.assert_array_equal(first.splits[split].images, again.splits[split].images)
        np.testing.assert_array_equal(first.splits[split].labels, again.splits[split].labels)


def test_chars36_status_counts_without_images(byclass_root):
    root, _, _ = byclass_root
    row = next(r for r in status(root) if r["name"] == "chars36")
    assert row["counts"] == {"train": 252, "val": 72, "test": 36}


def test_tampered_labels_with_size_and_mtime_kept_are_unverified_on_rebuild(tmp_path,
                                                                          monkeypatch):
    """Issue 20 item 5 on EMNIST (a known copy whose mismatch only marks it unverified): the
    labels are changed with size and mtime kept, and the decoded cache is removed."""
    import os
    import shutil

    images, labels = byclass_parts()
    folder = tmp_path / "emnist" / "gzip"
    table = make_emnist(folder, "byclass", {"test": (images, labels)}, gz=False)
    monkeypatch.setattr(emnist, "KNOWN_MD5", table)
    first = load("emnist", tmp_path)
    assert first.source.verified
    path = folder / "emnist-byclass-test-labels-idx1-ubyte"
    st = path.stat()
    raw = bytearray(path.read_bytes())
    raw[8:13] = bytes([1] * 5)  # relabel the first 5 images (class 0) as class 1
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert load("emnist", tmp_path).source.verified  # the cache entry alone still matches
    shutil.rmtree(cache_dir() / "emnist")
    second = load("emnist", tmp_path)
    assert not second.source.verified
    assert second.source.checksum != first.source.checksum
    assert second.source.files[path.name] != table[path.name]
    assert (second["test"].labels != first["test"].labels).sum() == 5


def test_known_copy_checksum_mismatch_is_only_unverified(byclass_root, monkeypatch):
    root, _, _ = byclass_root
    monkeypatch.setattr(emnist, "KNOWN_MD5", {
        "emnist-byclass-test-images-idx3-ubyte": "md5:" + "0" * 32})
    ds = load("emnist", root)
    assert not ds.source.verified
