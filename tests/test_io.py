"""Atomic writes keep the old file when a write fails; refused writes and unparsable JSON are
one-line errors naming the file."""

import os

import pytest

from neuralab.errors import NeuralabError
from neuralab.io import atomic_write_text, read_json, write_json


def test_write_then_read_round_trip(tmp_path):
    path = write_json(tmp_path / "deep" / "a.json", {"x": [1, 2.5], "p": tmp_path})
    assert read_json(path) == {"x": [1, 2.5], "p": str(tmp_path)}
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]  # no temporary file left


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = atomic_write_text(tmp_path / "a.txt", "old")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(NeuralabError, match=f"cannot write {path}: No space left on device"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(NeuralabError, match="cannot write .*file/sub/a.json: Not a directory"):
        write_json(tmp_path / "file" / "sub" / "a.json", {})


@pytest.mark.parametrize("content, where", [('{"a": 1,\n', " at line 2"), (b"\xff\xfe", "")])
def test_unparsable_json_names_the_file(tmp_path, content, where):
    path = tmp_path / "metrics.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(NeuralabError) as err:
        read_json(path)
    assert str(err.value) == f"{path} is not valid JSON{where}; restore or remove it"
