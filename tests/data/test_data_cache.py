"""The decoded-array cache: stale temporary leftovers, one-line warnings, content keys."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
from data_builders import make_image_tree, make_mnist

from neuralab.data import cache, cache_dir, load, mnist, paths


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _temp_name(key: str, pid: int) -> str:
    return f".{key}.p{pid}-{paths._host_tag()}.abc123.tmp"


def _age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_stale_temp_entries_are_removed_when_the_cache_is_opened(tmp_path, monkeypatch):
    """Issue 20 item 9: a killed writer's ``.tmp`` folder (maybe a whole split) stayed."""
    monkeypatch.setattr(cache, "_cleaned", set())
    folder = cache_dir() / "mnist"
    folder.mkdir(parents=True)
    dead = folder / _temp_name("k1", _dead_pid())
    dead.mkdir()
    np.save(dead / "train-images.npy", np.zeros((100, 28, 28, 1), np.uint8))  # a whole split
    old_foreign = folder / ".k2.abcdef.tmp"  # an old-style name: no owner to check
    old_foreign.mkdir()
    _age(old_foreign, 2 * 3600)
    fresh_foreign = folder / ".k3.ghijkl.tmp"
    fresh_foreign.mkdir()
    mine = folder / _temp_name("k4", os.getpid())
    mine.mkdir()
    _age(mine, 2 * 3600)
    leftover_file = cache_dir() / _temp_name("digests.json", _dead_pid())
    leftover_file.write_text("{}")
    entry = folder / "0123456789abcdef0123"  # a real entry is never touched
    entry.mkdir()
    make_mnist(tmp_path / "root" / "mnist")
    monkeypatch.setattr(mnist.MNIST, "md5", {})
    load("mnist", tmp_path / "root")
    assert not dead.exists() and not old_foreign.exists() and not leftover_file.exists()
    assert fresh_foreign.exists() and mine.exists() and entry.exists()
    assert {p.name for p in folder.glob(".*.tmp")} == {fresh_foreign.name, mine.name}


def test_a_live_foreign_writer_is_left_alone(monkeypatch):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        folder = cache_dir() / "x"
        folder.mkdir(parents=True)
        live = folder / _temp_name("k", proc.pid)
        live.mkdir()
        _age(live, 2 * 3600)  # old, but its writer still runs
        assert paths.clean_stale_temps(folder) == []
        assert live.exists()
    finally:
        proc.kill()
        proc.wait()
    assert paths.clean_stale_temps(folder) == [live]


def test_the_cache_writer_names_its_temp_folder_after_itself(tmp_path, monkeypatch):
    seen = []
    real = paths.make_temp_dir

    def spy(parent, base, suffix=".tmp"):
        out = real(parent, base, suffix)
        seen.append(out.name)
        return out

    monkeypatch.setattr(cache, "make_temp_dir", spy)
    make_image_tree(tmp_path / "tree")
    load(tmp_path / "tree")
    assert len(seen) == 1 and seen[0].startswith(".") and seen[0].endswith(".tmp")
    assert f".p{os.getpid()}-{paths._host_tag()}." in seen[0]
    assert not list((cache_dir() / "image-folder").glob(".*.tmp"))  # renamed into place


def test_cache_warnings_are_one_line(tmp_path, monkeypatch, capfd):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NEURALAB_CACHE", str(blocker / "cache"))
    make_image_tree(tmp_path / "tree")
    ds = load(tmp_path / "tree")  # still loads
    assert ds.counts() == {"train": 6, "test": 6}
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"neuralab: warning: cannot write the array cache under "
                             f"{blocker / 'cache' / 'image-folder'}: ")
    assert "UserWarning" not in err[0] and "warnings.warn" not in err[0]


def test_mnist_entries_are_keyed_by_the_content_read(tmp_path, monkeypatch):
    """Two copies with the same bytes in different places share one entry; the key is the
    checksum of what was decoded, not of the path."""
    make_mnist(tmp_path / "a" / "mnist")
    make_mnist(tmp_path / "b" / "mnist")
    monkeypatch.setattr(mnist.MNIST, "md5", {})
    first = load("mnist", tmp_path / "a")
    second = load("mnist", tmp_path / "b")
    assert first.source.checksum == second.source.checksum
    entries = [p for p in (cache_dir() / "mnist").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1
    assert entries[0].name == cache.cache_key("mnist", "idx", first.source.checksum)
