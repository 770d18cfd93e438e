"""neuralab.system: the allocator setting that keeps freed tensor memory in the process."""

import json
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="keep_freed_memory tunes glibc's malloc")

# allocate and free a 256 MB tensor six times; count the page faults of the last three
PROBE = """
import json, resource, sys, torch
from neuralab.system import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
for _ in range(3):  # the first rounds fault either way (the heap grows to its size)
    torch.ones(64, 1024, 1024).sum()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    torch.ones(64, 1024, 1024).sum()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"kept": kept, "again": keep_freed_memory() if kept else None,
                  "faults": faults}))
"""


def _probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_freed_tensor_memory_is_reused_without_page_faults():
    pages = 3 * 64 * 1024 * 1024 * 4 // 4096  # 4 KB pages of the three new tensors
    plain, kept = _probe("plain"), _probe("keep")
    assert plain["faults"] > 0.9 * pages  # glibc unmaps each and faults in fresh pages
    assert kept["kept"] is True and kept["again"] is True  # in effect, and idempotent
    assert kept["faults"] < 0.01 * pages  # the freed block is reused as it is


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
