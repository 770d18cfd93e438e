"""benchmarks/gpu_check.{sh,py}: synthetic data the package reads, and a summary that records
every step's outcome (also failed and unfinished ones)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def gc(load_benchmark):
    return load_benchmark("gpu_check")


def test_script_parses():
    subprocess.run(["bash", "-n", str(BENCH / "gpu_check.sh")], check=True)


def test_synthetic_data_is_a_cifar_shaped_folder(gc, tmp_path):
    from neuralab.data import load

    gc.make_data(tmp_path / "syn", n_train=20, n_test=10)
    data = load(tmp_path / "syn")
    assert list(data.classes) == sorted(gc.CIFAR_CLASSES)
    assert data.splits["train"].images.shape == (20, 32, 32, 3)  # uint8 NHWC, as CIFAR-10's
    assert len(data.splits["test"].labels) == 10


def _record(steps: Path, logs: Path, i: int, name: str, rc, kind="plain", **extra):
    log = logs / f"{i}.log"
    log.write_text("\n".join(f"line {k}" for k in range(40)) + "\n" + extra.pop("text", ""))
    doc = {"name": name, "kind": kind, "log": str(log), "timeout_s": 10, "started": 0.0,
           "command": f"cmd {name}", "rc": rc, "seconds": 1, **extra}
    (steps / f"{i:02d}_{name}.step.json").write_text(json.dumps(doc))


def test_summary_records_every_outcome(gc, tmp_path):
    steps, logs, runs = tmp_path / "steps", tmp_path / "logs", tmp_path / "runs"
    for d in (steps, logs, runs / "cifar10-fast" / "r1"):
        d.mkdir(parents=True)
    metrics = runs / "cifar10-fast" / "r1" / "metrics.json"
    metrics.write_text(json.dumps({"wall_time_s": 3.0, "unrelated": 1, "config": {"compile": True},
                                   "metrics": {"test_accuracy_tta": 0.5, "other": 2}}))
    os.utime(metrics, (100.0, 100.0))
    older = runs / "cifar10-fast" / "r0" / "metrics.json"  # an earlier step's run: not this one
    older.parent.mkdir()
    older.write_text(json.dumps({"wall_time_s": 9.0}))
    os.utime(older, (50.0, 50.0))
    smoke = {"backend": "nccl", "all_reduce_ok": True}
    _record(steps, logs, 1, "data_genuine", 1)
    _record(steps, logs, 2, "cifar10_fast", 0, kind="run", experiment="cifar10-fast",
            started=90.0, ended=110.0)
    _record(steps, logs, 3, "ddp_nccl", 0, kind="ddp", text="DDP_SMOKE " + json.dumps(smoke))
    _record(steps, logs, 4, "throughput", 124)
    _record(steps, logs, 5, "ddp_nproc1", None)
    out = tmp_path / "res" / "gpu_check.json"
    doc = gc.summarize(steps, out, "cpu", runs)
    assert json.loads(out.read_text()) == doc
    by = {s["step"]: s for s in doc["steps"]}
    assert [s["step"] for s in doc["steps"]] == ["data_genuine", "cifar10_fast", "ddp_nccl",
                                                "throughput", "ddp_nproc1"]
    assert by["data_genuine"]["status"] == "failed" and by["data_genuine"]["optional"]
    fig = by["cifar10_fast"]["figures"]
    assert fig["wall_time_s"] == 3.0 and fig["metrics"] == {"test_accuracy_tta": 0.5}
    assert fig["config"] == {"compile": True}
    assert by["ddp_nccl"]["figures"] == smoke
    assert by["throughput"]["status"] == "timeout"
    assert by["ddp_nproc1"]["status"] == "running"
    assert len(by["throughput"]["log_tail"]) == gc.TAIL_LINES
    assert doc["steps_ok"] == 2 and doc["ok"] is False
