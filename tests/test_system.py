"""neuralab.system: the allocator setting that keeps freed tensor memory in the process."""

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="keep_freed_memory tunes glibc's malloc")

# eight training steps of a small convnet whose activations (33.5 MB each) are over glibc's
# 32 MB mmap threshold; the page faults of the last three steps
PROBE = """
import json, resource, sys, torch
from neuralab.system import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                          torch.nn.Conv2d(16, 16, 3, padding=1))
x = torch.randn(128, 3, 64, 64)
faults = []
for _ in range(8):  # the first steps fault either way (the heap grows to its size)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    net(x).square().mean().backward()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"kept": kept, "again": keep_freed_memory() if kept else None,
                  "faults": sum(faults[-3:])}))
"""


def _probe(mode: str, **env: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True, env={**os.environ, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_freed_tensor_memory_is_reused_without_page_faults():
    plain, kept = _probe("plain"), _probe("keep")
    # each step's activations arrive as fresh 4 KB pages: 3 steps x 8 tensors of 33.5 MB
    assert plain["faults"] > 3 * 8 * 33.5e6 / 4096 * 0.9
    assert kept["kept"] is True and kept["again"] is True  # in effect, and idempotent
    assert kept["faults"] < 0.05 * plain["faults"]  # the freed blocks are reused as they are
    turned_off = _probe("keep", NEURALAB_KEEP_FREED_MEMORY="0")
    assert turned_off["kept"] is False and turned_off["faults"] > 0.9 * plain["faults"]


def test_trainer_on_a_cpu_keeps_freed_memory_unless_told_not_to(monkeypatch):
    import torch

    import neuralab.train.trainer as trainer_module
    from neuralab.train import Trainer, TrainSettings

    calls = []
    monkeypatch.setattr(trainer_module, "keep_freed_memory", lambda: calls.append(1) or True)
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    Trainer(model, opt, [], settings=TrainSettings(max_steps=1, show_progress=False))
    assert calls == [1]
    Trainer(model, opt, [], settings=TrainSettings(max_steps=1, show_progress=False,
                                                   keep_freed_memory=False))
    assert calls == [1]


def test_measured_here_names_the_machine_the_versions_and_the_command(monkeypatch):
    import datetime as dt

    from neuralab.system import measured_here

    record = measured_here("benchmarks/x.py", ["--batch", "2", "--write"])
    assert record["command"] == "python benchmarks/x.py --batch 2 --write"
    assert record["hardware"]["device"] == "cpu" and record["hardware"]["cpu_cores"] >= 1
    assert {"neuralab", "python", "numpy"} <= set(record["versions"])
    taken = dt.datetime.fromisoformat(record["date"])
    assert taken.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.timezone.utc) - taken).total_seconds()) < 60
    monkeypatch.setattr("sys.argv", ["benchmarks/x.py", "--seconds", "3"])
    assert measured_here("benchmarks/x.py", None)["command"] == "python benchmarks/x.py --seconds 3"


def test_best_ms_is_the_fastest_round_after_the_warm_up_calls():
    import time

    from neuralab.system import best_ms

    calls = []

    def fn():  # the first 3 calls (the warm-up) are slow, later ones 2 ms
        calls.append(1)
        time.sleep(0.05 if len(calls) <= 3 else 0.002)

    ms = best_ms(fn, repeats=4, rounds=2)
    assert len(calls) == 3 + 2 * 4
    assert 2.0 <= ms < 20.0
