"""IDX parsing and the MNIST / Fashion-MNIST loaders on generated official-format files."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest
from data_builders import expect_sizes, idx_bytes, make_mnist

from neuralab.data import idx, integrity, load, mnist
from neuralab.errors import DataError


@pytest.fixture(autouse=True)
def small_mnist(monkeypatch):
    """The fixtures hold 30 train and 10 test images (the real 60,000 / 10,000)."""
    expect_sizes(monkeypatch, mnist.MNIST, counts={"train": 30, "test": 10})
    expect_sizes(monkeypatch, mnist.FASHION_MNIST, counts={"train": 20, "test": 10},
                 per_class={"train": 2, "test": 1})


@pytest.fixture
def mnist_root(tmp_path, monkeypatch):
    """A data root with gzipped MNIST files whose md5s the loader expects."""
    arrays, table = make_mnist(tmp_path / "root" / "mnist")
    monkeypatch.setattr(mnist.MNIST, "md5", table)
    return tmp_path / "root", arrays


def test_parse_idx_round_trip():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    out = idx.parse_idx(idx_bytes(images), "x", magic=idx.IMAGES_MAGIC)
    np.testing.assert_array_equal(out, images)
    labels = idx.parse_idx(idx_bytes(np.array([3, 1], np.uint8)), "y", magic=idx.LABELS_MAGIC)
    assert labels.tolist() == [3, 1]


@pytest.mark.parametrize("mangle, message", [
    (lambda b: b[:-5], "truncated"),
    (lambda b: b"\x01\x02" + b[2:], "bad magic"),
    (lambda b: b"", "bad magic"),
])
def test_parse_idx_rejects_bad_files(mangle, message):
    data = idx_bytes(np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(DataError, match=message):
        idx.parse_idx(mangle(data), "bad.idx")


def test_parse_idx_checks_the_expected_magic():
    with pytest.raises(DataError, match="magic number 0x00000801, expected 0x00000803"):
        idx.parse_idx(idx_bytes(np.zeros(3, np.uint8)), "labels", magic=idx.IMAGES_MAGIC)


def test_mnist_loads_verified(mnist_root):
    root, arrays = mnist_root
    ds = load("mnist", root)
    assert ds.counts() == {"train": 30, "test": 10}
    train = ds.splits["train"]
    assert train.images.dtype == np.uint8 and train.images.shape == (30, 28, 28, 1)
    assert train.labels.dtype == np.int64
    np.testing.assert_array_equal(train.images[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(train.labels, arrays["train"][1])
    assert ds.source.verified and ds.source.format == "idx"
    assert ds.source.checksum.startswith("sha256:")
    assert set(ds.source.files) == set(mnist.MNIST.md5)
    assert ds.classes == [str(d) for d in range(10)]


def test_raw_and_regzipped_files_verify_the_same(tmp_path, monkeypatch):
    arrays, table = make_mnist(tmp_path / "raw" / "mnist", gz=False)
    monkeypatch.setattr(mnist.MNIST, "md5", table)
    raw = load("mnist", tmp_path / "raw")
    # the same idx content, gzipped at another compression level: different .gz bytes
    folder = tmp_path / "regz" / "mnist"
    folder.mkdir(parents=True)
    for path in (tmp_path / "raw" / "mnist").iterdir():
        (folder / f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes(), 1))
    regz = load("mnist", tmp_path / "regz")
    assert raw.source.verified and regz.source.verified
    assert raw.source.checksum == regz.source.checksum
    np.testing.assert_array_equal(raw.splits["test"].images, regz.splits["test"].images)


def test_torchvision_layout_is_found(tmp_path, monkeypatch):
    _, table = make_mnist(tmp_path / "MNIST" / "raw")
    monkeypatch.setattr(mnist.MNIST, "md5", table)
    assert load("mnist", tmp_path).source.path == str(tmp_path / "MNIST" / "raw")


def test_corrupt_copy_names_the_file_and_the_checksum(mnist_root):
    root, _ = mnist_root
    path = root / "mnist" / "t10k-images-idx3-ubyte.gz"
    data = bytearray(gzip.decompress(path.read_bytes()))
    data[1000] ^= 0xFF  # one flipped pixel, re-gzipped: a well-formed but wrong file
    path.write_bytes(gzip.compress(bytes(data)))
    expected = mnist.MNIST.md5["t10k-images-idx3-ubyte"]
    with pytest.raises(DataError) as err:
        load("mnist", root)
    message = str(err.value)
    assert str(path) in message and expected in message and "\n" not in message
    assert "neuralab data download mnist" in message


def test_truncated_gzip_names_the_file_and_the_checksum(mnist_root):
    root, _ = mnist_root
    path = root / "mnist" / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError) as err:
        load("mnist", root)
    assert str(path) in str(err.value)
    assert mnist.MNIST.md5["train-labels-idx1-ubyte"] in str(err.value)


def test_missing_mnist_says_where_and_how(tmp_path):
    with pytest.raises(DataError) as err:
        load("mnist", tmp_path)
    message = str(err.value)
    assert str(tmp_path / "mnist") in message and "neuralab data download mnist" in message
    assert "--data-dir" in message and "\n" not in message


def test_half_a_split_is_an_error(mnist_root):
    root, _ = mnist_root
    (root / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="only half of the test split"):
        load("mnist", root)


def test_a_missing_split_is_one_line(tmp_path, monkeypatch):
    """Issue 20 item 4: deleting both train files was a KeyError traceback later on."""
    _, table = make_mnist(tmp_path / "mnist")
    monkeypatch.setattr(mnist.MNIST, "md5", table)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / "mnist" / name).unlink()
    with pytest.raises(DataError) as err:
        load("mnist", tmp_path)
    assert str(err.value) == (
        f"incomplete mnist in {tmp_path / 'mnist'}: no train split (train-images-idx3-ubyte"
        "[.gz] and train-labels-idx1-ubyte[.gz] are missing); run `neuralab data download "
        "mnist`")


def test_wrong_counts_are_refused(tmp_path, monkeypatch):
    make_mnist(tmp_path / "mnist", n_train=20)
    monkeypatch.setattr(mnist.MNIST, "md5", {})
    with pytest.raises(DataError, match=r"^incomplete mnist in .*mnist: train has 20 of 30 "
                                        r"images$"):
        load("mnist", tmp_path)


def test_a_missing_split_of_a_loaded_dataset_is_a_data_error(mnist_root):
    ds = load("mnist", mnist_root[0])
    with pytest.raises(DataError, match=r"^mnist at .*mnist has no 'val' split \(it has "
                                        r"train, test\)$"):
        ds.splits["val"]


def _tamper_keeping_size_and_mtime(path, offset=-3):
    """Change one label of an idx file (gzipped or not) keeping its size and mtime."""
    st = path.stat()
    original = path.read_bytes()
    gz = path.suffix == ".gz"
    raw = bytearray(gzip.decompress(original) if gz else original)
    raw[offset] = (raw[offset] + 1) % 10
    blob = gzip.compress(bytes(raw), mtime=0) if gz else bytes(raw)
    assert len(blob) <= len(original)
    blob += b"\0" * (len(original) - len(blob))  # gzip readers ignore trailing zero padding
    path.write_bytes(blob)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_tampered_labels_behind_size_and_mtime_are_caught_on_rebuild(mnist_root):
    """Issue 20 item 5: labels changed with size and mtime kept, decoded cache removed: the
    next run must not record the genuine checksum with ``verified: true``."""
    import shutil

    from neuralab.data import cache_dir

    root, _ = mnist_root
    first = load("mnist", root)
    assert first.source.verified
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    _tamper_keeping_size_and_mtime(path)
    assert load("mnist", root).source == first.source  # the cache entry is still trusted
    shutil.rmtree(cache_dir() / "mnist")
    with pytest.raises(DataError) as err:
        load("mnist", root)
    message = str(err.value)
    assert message.startswith(f"corrupt file {path}: its decompressed bytes have md5:")
    assert f"expected {mnist.MNIST.md5['t10k-labels-idx1-ubyte']}" in message
    row = next(r for r in status_rows(root) if r["name"] == "mnist")
    assert row["verified"] is False  # the fresh digest replaced the remembered one


def status_rows(root):
    from neuralab.data import status

    return status(root)


def test_second_load_comes_from_the_cache(mnist_root, monkeypatch):
    root, arrays = mnist_root
    first = load("mnist", root)

    def no_parsing(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(mnist, "parse_idx", no_parsing)
    monkeypatch.setattr(mnist, "read_verified", no_parsing)
    monkeypatch.setattr(integrity, "read_bytes", no_parsing)  # the checksum is remembered
    second = load("mnist", root)
    np.testing.assert_array_equal(first.splits["train"].images, second.splits["train"].images)
    assert second.source == first.source


def test_unknown_checksum_loads_unverified(tmp_path, monkeypatch):
    make_mnist(tmp_path / "mnist")
    monkeypatch.setattr(mnist.MNIST, "md5", {})
    ds = load("mnist", tmp_path)
    assert not ds.source.verified and ds.counts()["train"] == 30


def test_tampered_unverified_copy_gets_its_new_checksum(tmp_path, monkeypatch):
    """Without a published checksum the rebuilt entry records the checksum of the new bytes."""
    import shutil

    from neuralab.data import cache_dir

    make_mnist(tmp_path / "mnist", n_test=20, gz=False)  # two of each class: one may change
    expect_sizes(monkeypatch, mnist.MNIST, counts={"train": 30, "test": 20})
    monkeypatch.setattr(mnist.MNIST, "md5", {})
    first = load("mnist", tmp_path)
    _tamper_keeping_size_and_mtime(tmp_path / "mnist" / "t10k-labels-idx1-ubyte")
    shutil.rmtree(cache_dir() / "mnist")
    second = load("mnist", tmp_path)
    assert not second.source.verified
    assert second.source.checksum != first.source.checksum
    changed = second.splits["test"].labels != first.splits["test"].labels
    assert changed.sum() == 1


def test_fashion_mnist_from_the_debian_folder(tmp_path, monkeypatch):
    debian = tmp_path / "usr-share-datasets" / "fashion-mnist"
    _, table = make_mnist(debian, n_train=20, n_test=10)
    monkeypatch.setattr(mnist.FASHION_MNIST, "md5", table)
    monkeypatch.setattr(mnist.FASHION_MNIST, "extra_folders", [debian])
    ds = load("fashion-mnist", tmp_path / "empty-root")
    assert ds.source.path == str(debian) and ds.source.verified
    assert ds.classes[0] == "T-shirt/top" and len(ds.classes) == 10
