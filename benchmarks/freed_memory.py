"""What :func:`neuralab.system.keep_freed_memory` saves: training steps with glibc's default
malloc against the same steps with freed memory kept, each in a fresh process.

    python benchmarks/freed_memory.py [--steps 3] [--write]

Cases: cifar10-fast's airbench net at its batch of 2,000 (bf16 autocast where the CPU has
bfloat16 instructions, else fp32; Muon + SGD as the experiment builds them), and
cifar10-cnn-best's network at batch 256 (SGD). Each case runs in a new Python process per mode
(``plain``: the allocator as it comes; ``keep``: ``keep_freed_memory()`` first), does two
warm-up steps on one random batch, then times ``--steps`` steps and reads the process's own
counters (``getrusage``): seconds per step, CPU seconds per step in user and in kernel mode,
minor page faults per step, peak resident memory. ``--write`` stores the table in
results/benchmarks/freed_memory.json with the hardware, versions, date and this command.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from neuralab.io import write_json
from neuralab.system import measured_here

OUT = Path("results/benchmarks/freed_memory.json")
CASES = {"airbench": 2000, "cnn_best": 256}

STEP = r"""
import json, resource, sys, time
import torch, torch.nn.functional as F
from neuralab.system import keep_freed_memory
from neuralab.train.trainer import cpu_has_bf16
model_name, batch, mode, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
kept = keep_freed_memory() if mode == "keep" else False
torch.manual_seed(0)
x = torch.randn(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 10, (batch,))
if model_name == "airbench":
    from neuralab.experiments.cifar10_fast import FastConfig, param_groups
    from neuralab.models.airbench import AirbenchNet
    from neuralab.train.muon import Muon
    model = AirbenchNet().to(memory_format=torch.channels_last)
    model.init_whiten(x[:500].contiguous())
    opt = Muon(param_groups(model, FastConfig()), ns_dtype=torch.float32)
else:
    from neuralab.models import get_model
    model = get_model(model_name).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
precision = "bf16" if cpu_has_bf16() else "fp32"

def step():
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()

step(); step()
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for _ in range(steps):
    step()
seconds, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"model": model_name, "batch": batch, "precision": precision, "mode": mode,
                  "kept": kept, "s_per_step": round(seconds / steps, 3),
                  "user_cpu_s_per_step": round((r1.ru_utime - r0.ru_utime) / steps, 3),
                  "kernel_cpu_s_per_step": round((r1.ru_stime - r0.ru_stime) / steps, 3),
                  "page_faults_per_step": (r1.ru_minflt - r0.ru_minflt) // steps,
                  "peak_rss_gb": round(r1.ru_maxrss / 1e6, 2)}))
"""


def measure(model: str, batch: int, mode: str, steps: int) -> dict:
    out = subprocess.run([sys.executable, "-c", STEP, model, str(batch), mode, str(steps)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for model, batch in CASES.items():
        plain, keep = (measure(model, batch, mode, args.steps) for mode in ("plain", "keep"))
        speedup = plain["s_per_step"] / keep["s_per_step"]
        keep["speedup_vs_plain"] = round(speedup, 3)
        for row in (plain, keep):
            rows.append(row)
            print(" ".join(f"{k}={v}" for k, v in row.items()))
        print(f"{model}: {speedup:.2f}x faster with freed memory kept")
    if args.write:
        write_json(OUT, {"benchmark": "freed_memory", "steps": args.steps, "rows": rows,
                         **measured_here("benchmarks/freed_memory.py", argv)})
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
