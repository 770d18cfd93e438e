"""A small CIFAR-10 run through the whole stack (data -> trainer -> run folder), on the real copy.

Skipped when ``NEURALAB_DATA`` does not hold CIFAR-10. About 200 SGD steps on a stratified
subset of 2,000 images must beat chance (10%) clearly; the full runs are experiments.
"""

import json
import os
from pathlib import Path

import pytest

from neuralab.cli import main

DATA = os.environ.get("NEURALAB_DATA")
needs_cifar = pytest.mark.skipif(not DATA or not (Path(DATA) / "cifar10").is_dir(),
                                 reason="NEURALAB_DATA has no cifar10")


@needs_cifar
def test_simple_cnn_smoke_run_learns(tmp_path):
    code = main(["run", "cifar10-simple-cnn", "--out", str(tmp_path), "--device", "cpu",
                 "--set", "train_subset=2000", "--set", "test_subset=1000",
                 "--set", "epochs=6", "--set", "optimizer=adam", "--set", "learning_rate=1e-3",
                 "--set", "precision=fp32"])  # the same on every CPU
    assert code == 0
    (run_dir,) = (tmp_path / "cifar10-simple-cnn").iterdir()
    doc = json.loads((run_dir / "metrics.json").read_text())
    assert doc["metrics"]["steps"] == 6 * 32  # 2,000 / 64 = 31.25 -> 32 batches per epoch
    assert doc["metrics"]["parameters"] == 390_410
    assert doc["value"] > 0.25, doc["metrics"]
    assert doc["data"][0]["note"].startswith("CIFAR-10 (JPEG copy)")
    assert (run_dir / "checkpoint" / "model.safetensors").exists()
