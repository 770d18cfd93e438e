"""DDP through PyTorch's own engine: torchrun, gloo on CPU, two processes on 127.0.0.1.

Every test launches real processes and is bounded by a timeout.
"""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

JOB = str(Path(__file__).with_name("ddp_job.py"))
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(out: Path, *args: str, nproc: int = 2, timeout: float = 120):
    cmd = [*TORCHRUN, "--nproc_per_node", str(nproc), "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), JOB, str(out), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _single(out: Path, *args: str):
    return subprocess.run([sys.executable, JOB, str(out), *args], capture_output=True,
                          text=True, timeout=120)


def _result(out: Path) -> dict:
    return json.loads((out / "result.json").read_text())


def test_ddp_steps_equal_single_process_steps_with_the_global_batch(tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    assert _single(single, "--steps", "7", "--batch", "32").returncode == 0
    run = _torchrun(ddp, "--steps", "7", "--batch", "32")
    assert run.returncode == 0, run.stderr[-3000:]
    a, b = _result(single), _result(ddp)
    assert b["world_size"] == 2 and a["world_size"] == 1
    assert max(abs(p - q) for p, q in zip(a["params"], b["params"], strict=True)) < 1e-10
    # all-reduced evaluation over unpadded shards equals the single-process evaluation
    assert b["eval"]["n"] == a["eval"]["n"] == 40
    assert b["eval"]["loss"] == pytest.approx(a["eval"]["loss"], abs=1e-12)
    assert b["eval"]["accuracy"] == a["eval"]["accuracy"]
    for ra, rb in zip(a["history"], b["history"], strict=True):
        assert rb["val_loss"] == pytest.approx(ra["val_loss"], abs=1e-10)
        assert rb["train_loss"] == pytest.approx(ra["train_loss"], abs=1e-10)


def test_killed_rank_ends_the_run_quickly_and_keeps_the_checkpoint(tmp_path):
    start = time.monotonic()
    run = _torchrun(tmp_path, "--steps", "400", "--checkpoint-every", "5", "--die-rank", "1",
                    "--die-at", "12", "--timeout", "20", timeout=90)
    assert run.returncode != 0
    assert time.monotonic() - start < 90
    assert not (tmp_path / "result.json").exists()
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(tmp_path / "ckpt" / "model.safetensors"))
    state = torch.load(tmp_path / "ckpt" / "state.pt", weights_only=False)
    assert state["step"] == 10 and len(state["per_rank"]) == 2
    assert set(weights) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_resume_under_ddp_matches_an_uninterrupted_ddp_run(tmp_path):
    ref, broken = tmp_path / "ref", tmp_path / "broken"
    assert _torchrun(ref, "--steps", "20", "--checkpoint-every", "3").returncode == 0
    died = _torchrun(broken, "--steps", "20", "--checkpoint-every", "3", "--die-rank", "0",
                     "--die-at", "11", "--timeout", "20", timeout=90)
    assert died.returncode != 0
    resumed = _torchrun(broken, "--steps", "20", "--checkpoint-every", "3", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = _result(ref), _result(broken)
    assert a["params"] == b["params"]
    assert a["eval"] == b["eval"] and a["history"] == b["history"]


def test_two_node_rendezvous_on_one_machine(tmp_path):
    """Two torchrun launchers (one process each) meet through the c10d rendezvous."""
    port = _free_port()
    common = [*TORCHRUN, "--nnodes", "2", "--nproc_per_node", "1", "--rdzv-backend", "c10d",
              "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "neuralab-test"]
    # on one machine both launchers would guess that they host the c10d store and race for
    # its port: say which one hosts it (on separate machines the hostname decides)
    nodes = []
    for is_host in (1, 0):
        conf = ["--rdzv-conf", f"is_host={is_host},read_timeout=120"]
        nodes.append(subprocess.Popen([*common, *conf, JOB, str(tmp_path), "--steps", "4"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        time.sleep(1.0)  # the host's store listens first
    codes = [n.wait(timeout=120) for n in nodes]
    assert codes == [0, 0], [n.stderr.read()[-2000:] for n in nodes]
    assert _result(tmp_path)["world_size"] == 2


def test_cli_nproc_runs_an_experiment_and_only_rank_0_writes(tmp_path):
    run = subprocess.run([sys.executable, "-m", "neuralab", "run", "digits-mlp-torch",
                          "--nproc", "2", "--out", str(tmp_path), "--device", "cpu",
                          "--set", "epochs=3"], capture_output=True, text=True, timeout=180,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    (run_dir,) = (tmp_path / "digits-mlp-torch").iterdir()  # one folder, not one per rank
    doc = json.loads((run_dir / "metrics.json").read_text())
    assert doc["world_size"] == 2 and doc["metrics"]["epochs"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits-mlp-torch"]
    assert run.stdout.count("digits-mlp-torch: test_accuracy") == 1  # rank 0 reports
