"""Training and evaluation throughput of every registered CIFAR-10 CNN, and the Trainer's overhead.

    python benchmarks/throughput.py [--device cpu] [--seconds 6] [--batch 128] [--write]

For each model: training images/s (forward + backward + SGD step) with and without
``channels_last``, and evaluation images/s (forward under no_grad, batch 500). Then the
Trainer's overhead: the same model and the same pre-made batches through ``Trainer.fit`` and
through a bare PyTorch loop, alternated, median step times compared (target <= 1.05x).
``--write`` stores the figures in results/benchmarks/throughput.json with the hardware, date,
versions and this command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from neuralab.io import write_json
from neuralab.models import build_model
from neuralab.system import hardware, resolve_device, versions
from neuralab.train import Trainer, TrainSettings

CNNS = ["simple_cnn", "cnn_a", "cnn_b", "cnn_best", "airbench", "vgg", "preact_vgg13"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _batches(n: int, batch: int, device, channels_last: bool):
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        x = torch.randn(batch, 3, 32, 32, generator=g).to(device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out.append((x, torch.randint(0, 10, (batch,), generator=g).to(device)))
    return out


def train_rate(name: str, device, batch: int, seconds: float, channels_last: bool) -> float:
    torch.manual_seed(0)
    model = build_model(name).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data = _batches(4, batch, device, channels_last)
    done, start, i = 0, None, 0
    while True:
        x, y = data[i % len(data)]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        i += 1
        if i == 2:  # two warm-up steps
            _sync(device)
            start = time.perf_counter()
        elif i > 2:
            done += batch
            if time.perf_counter() - start > seconds:
                _sync(device)
                return done / (time.perf_counter() - start)


@torch.no_grad()
def eval_rate(name: str, device, seconds: float, channels_last: bool) -> float:
    model = build_model(name).to(device).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    (x, _), = _batches(1, 500, device, channels_last)
    model(x)
    _sync(device)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        model(x)
        done += 500
    _sync(device)
    return done / (time.perf_counter() - start)


def bare_loop(model, opt, batches) -> float:
    start = time.perf_counter()
    for x, y in batches:
        model.train()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    _sync(next(model.parameters()).device)
    return (time.perf_counter() - start) / len(batches)


def trainer_loop(model, opt, batches, device) -> float:
    trainer = Trainer(model, opt, batches, device=device,
                      settings=TrainSettings(max_epochs=1, show_progress=False))
    start = time.perf_counter()
    trainer.fit()
    _sync(device)
    return (time.perf_counter() - start) / len(batches)


def trainer_overhead(device, batch: int, rounds: int = 5, steps: int = 30) -> dict:
    """Median per-step time of Trainer.fit vs a bare loop on the same model and batches."""
    torch.manual_seed(0)
    model = build_model("simple_cnn").to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batches = _batches(steps, batch, device, channels_last=True)
    bare_loop(model, opt, batches[:3])  # warm-up
    bare, trained = [], []
    for _ in range(rounds):  # alternate so drifts in machine load hit both alike
        bare.append(bare_loop(model, opt, batches))
        trained.append(trainer_loop(model, opt, batches, device))
    b, t = statistics.median(bare), statistics.median(trained)
    return {"model": "simple_cnn", "batch": batch, "steps_per_round": steps, "rounds": rounds,
            "bare_step_ms": round(1e3 * b, 3), "trainer_step_ms": round(1e3 * t, 3),
            "ratio": round(t / b, 4), "target_ratio": 1.05}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--models", default=",".join(CNNS))
    p.add_argument("--write", action="store_true")
    p.add_argument("--out", default="results/benchmarks/throughput.json")
    args = p.parse_args()
    device = torch.device(resolve_device(args.device))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rows = []
    for name in args.models.split(","):
        row = {"model": name,
               "train_img_s": round(train_rate(name, device, args.batch, args.seconds, False), 1),
               "train_img_s_channels_last": round(
                   train_rate(name, device, args.batch, args.seconds, True), 1),
               "eval_img_s": round(eval_rate(name, device, args.seconds / 2, True), 1)}
        rows.append(row)
        print(f"{name:14s} train {row['train_img_s']:8.1f} img/s, channels_last "
              f"{row['train_img_s_channels_last']:8.1f} img/s, eval {row['eval_img_s']:8.1f} img/s",
              flush=True)
    overhead = trainer_overhead(device, args.batch)
    print(f"trainer overhead: bare {overhead['bare_step_ms']} ms/step, trainer "
          f"{overhead['trainer_step_ms']} ms/step, ratio {overhead['ratio']} (target <= 1.05)")
    if args.write:
        write_json(Path(args.out), {
            "benchmark": "throughput", "device": str(device), "batch": args.batch,
            "threads": torch.get_num_threads(), "models": rows, "trainer_overhead": overhead,
            "hardware": hardware(str(device)), "versions": versions(),
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": "python " + " ".join(sys.argv),
        })
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
