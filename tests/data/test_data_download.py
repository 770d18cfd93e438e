"""Downloads against a local HTTP server: mirrors, checksums, atomicity, archives."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile

import numpy as np
import pytest
from data_builders import expect_sizes, make_cifar_batches, make_mnist

from neuralab.data import cifar10, download, load, mnist
from neuralab.data.download import extract, fetch
from neuralab.errors import DataError


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fetch_falls_back_to_the_next_mirror(http_root, tmp_path):
    served, base = http_root
    (served / "good").mkdir()
    (served / "good" / "file.bin").write_bytes(b"payload")
    checksum = "md5:" + hashlib.md5(b"payload").hexdigest()
    dest = tmp_path / "out" / "file.bin"
    fetch([f"{base}/missing/file.bin", f"{base}/good/file.bin"], dest, checksum)
    assert dest.read_bytes() == b"payload"
    assert leftovers(dest.parent) == ["file.bin"]


def test_a_killed_downloads_part_file_is_removed_by_the_next_download(http_root, tmp_path):
    import os
    import subprocess
    import sys
    import time

    from neuralab.data import paths

    served, base = http_root
    (served / "file.bin").write_bytes(b"payload")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    killed = out / f".file.bin.p{proc.pid}-{paths._host_tag()}.x1y2.part"  # its writer is dead
    killed.write_bytes(b"half a download")
    old = out / ".other.bin.zz.part"  # no owner in the name, 2 hours old
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    keep = out / "notes.txt"
    keep.write_text("mine")
    fetch([f"{base}/file.bin"], out / "file.bin", None)
    assert leftovers(out) == ["file.bin", "notes.txt"]


def test_checksum_mismatch_leaves_nothing(http_root, tmp_path):
    served, base = http_root
    (served / "file.bin").write_bytes(b"tampered")
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(DataError) as err:
        fetch([f"{base}/file.bin"], dest, "sha256:" + "0" * 64)
    message = str(err.value)
    assert "sha256:" + "0" * 64 in message and "\n" not in message
    assert leftovers(dest.parent) == []


def test_all_mirrors_failing_lists_them(http_root, tmp_path):
    _, base = http_root
    with pytest.raises(DataError) as err:
        fetch([f"{base}/a.bin", f"{base}/b.bin"], tmp_path / "out" / "a.bin", None)
    assert f"{base}/a.bin" in str(err.value) and f"{base}/b.bin" in str(err.value)
    assert leftovers(tmp_path / "out") == []


def test_mnist_download_verifies_decompressed_bytes(http_root, tmp_path, monkeypatch):
    served, base = http_root
    arrays, table = make_mnist(served / "mirror2")
    monkeypatch.setattr(mnist.MNIST, "md5", table)
    monkeypatch.setattr(mnist.MNIST, "mirrors", [f"{base}/mirror1/", f"{base}/mirror2/"])
    folder = download("mnist", tmp_path / "root")
    assert folder == tmp_path / "root" / "mnist"
    assert len(leftovers(folder)) == 4
    ds = load("mnist", tmp_path / "root")
    assert ds.source.verified
    np.testing.assert_array_equal(ds.splits["test"].labels, arrays["test"][1])
    assert download("mnist", tmp_path / "root") == folder  # present and verified: no-op


def test_mnist_download_with_wrong_content_leaves_nothing(http_root, tmp_path, monkeypatch):
    served, base = http_root
    _, table = make_mnist(served)
    table["t10k-images-idx3-ubyte"] = "md5:" + "1" * 32
    monkeypatch.setattr(mnist.MNIST, "md5", table)
    monkeypatch.setattr(mnist.MNIST, "mirrors", [f"{base}/"])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        download("mnist", tmp_path)
    assert "t10k-images-idx3-ubyte.gz" not in leftovers(tmp_path / "mnist")
    assert not [n for n in leftovers(tmp_path / "mnist") if n.startswith(".")]


def _tar_gz(folder, top) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        tf.add(folder, arcname=top)
    return buffer.getvalue()


def test_cifar10_download_extracts_atomically(http_root, tmp_path, monkeypatch):
    served, base = http_root
    _, table = make_cifar_batches(tmp_path / "src" / "cifar-10-batches-py")
    expect_sizes(monkeypatch, cifar10, per_class={"train": 5, "test": 1})
    blob = _tar_gz(tmp_path / "src" / "cifar-10-batches-py", "cifar-10-batches-py")
    (served / "cifar-10-python.tar.gz").write_bytes(blob)
    monkeypatch.setattr(cifar10, "MD5", table)
    monkeypatch.setattr(cifar10, "URLS", [f"{base}/nope.tar.gz", f"{base}/cifar-10-python.tar.gz"])
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", "md5:" + hashlib.md5(blob).hexdigest())
    root = tmp_path / "root"
    dest = download("cifar10", root)
    assert dest == root / "cifar10" / "cifar-10-batches-py"
    assert leftovers(root / "cifar10") == ["cifar-10-batches-py"]  # archive and temp gone
    assert load("cifar10", root).counts() == {"train": 50, "test": 10}


def test_cifar10_bad_archive_checksum_leaves_nothing(http_root, tmp_path, monkeypatch):
    served, base = http_root
    (served / "c.tar.gz").write_bytes(b"not the archive")
    monkeypatch.setattr(cifar10, "URLS", [f"{base}/c.tar.gz"])
    with pytest.raises(DataError, match=cifar10.ARCHIVE_MD5):
        download("cifar10", tmp_path)
    assert leftovers(tmp_path / "cifar10") == []


def test_extract_zip_member_selection_and_traversal(tmp_path):
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/nist36_train.mat", b"a")
        zf.writestr("data/other.txt", b"b")
        zf.writestr("../evil.mat", b"c")
    out = extract(archive, tmp_path / "out", member=lambda n: n if n.endswith(".mat") else None)
    assert leftovers(out) == ["data"] and leftovers(out / "data") == ["nist36_train.mat"]
    assert not (tmp_path / "evil.mat").exists()


def test_failed_extraction_leaves_no_destination(tmp_path):
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match="corrupt archive"):
        extract(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert [n for n in leftovers(tmp_path) if n.startswith(".")] == []


def test_datasets_without_download(tmp_path):
    with pytest.raises(DataError, match="cannot be downloaded"):
        download("image-folder", tmp_path)
    assert download("digits", tmp_path).name == "digits.csv.gz"
