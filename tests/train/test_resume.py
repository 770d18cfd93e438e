"""Exact resume: a run SIGKILLed mid-training and resumed ends exactly like an unbroken run."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

JOB = Path(__file__).with_name("resume_job.py")


def _job(tmp_path: Path, name: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(JOB), str(tmp_path / "ckpt"),
                           str(tmp_path / f"{name}.json"), *flags],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("checkpoint_every, kill_at", [(None, 22), (6, 40)],
                         ids=["epoch-checkpoints", "mid-epoch-checkpoints"])
def test_killed_and_resumed_run_matches_uninterrupted_run(tmp_path, checkpoint_every, kill_at):
    extra = ["--checkpoint-every", str(checkpoint_every)] if checkpoint_every else []
    # 500 samples / 32 = 16 steps per epoch (last batch partial); 4 epochs = 64 steps
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    done = _job(ref_dir, "ref", *extra)
    assert done.returncode == 0, done.stderr
    killed = _job(tmp_path, "killed", "--kill-at", str(kill_at), *extra)
    assert killed.returncode == -9  # SIGKILL: nothing was flushed or cleaned up
    assert not (tmp_path / "killed.json").exists()
    assert (tmp_path / "ckpt" / "model.safetensors").exists()
    resumed = _job(tmp_path, "resumed", "--resume", *extra)
    assert resumed.returncode == 0, resumed.stderr
    ref = json.loads((ref_dir / "ref.json").read_text())
    got = json.loads((tmp_path / "resumed.json").read_text())
    assert got["steps"] == ref["steps"] == 64
    assert got["final"] == ref["final"]
    assert got["weights_sum"] == ref["weights_sum"]
    assert got["weights_abs"] == ref["weights_abs"]
    assert got["history"] == ref["history"]
