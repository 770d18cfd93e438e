"""Speed of the NumPy engine (neuralab.scratch) against PyTorch eager on the CPU.

Two workloads, each timed in the same process for both frameworks:

1. one training step (forward, loss, backward, SGD-with-momentum update) of an MLP
   3072-100-10 with ELU, batch 200, float32 (UvA practical 1's default network);
2. forward + backward of a Conv2d 3 -> 32 channels, 5x5 kernel, padding 2, on a float32
   batch of 64 CIFAR-sized images (input gradient included in both).

Each figure is the median of many repeats after warm-up. NumPy's BLAS and torch are given
the same number of threads. Targets: MLP step <= 0.8x torch's time, Conv2d <= 2x.

    python benchmarks/scratch_speed.py [--threads N] [--repeats R] [--write]

``--write`` stores the results as JSON in results/benchmarks/scratch_speed.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from neuralab.scratch import MLP, SGD, Conv2d, SoftmaxCrossEntropy, train_step  # noqa: E402

OUT = ROOT / "results" / "benchmarks" / "scratch_speed.json"
MLP_TARGET, CONV_TARGET = 0.8, 2.0


def median_ms(fn, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl missing)"
    return ", ".join(f"{i['internal_api']}={i['num_threads']}" for i in threadpool_info()
                     if i["user_api"] == "blas") or "none found"


def bench_mlp(torch, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3072)).astype(np.float32)
    y = rng.integers(0, 10, size=200)

    model = MLP(3072, [100], 10, activation="elu", dtype=np.float32, rng=0)
    loss_fn = SoftmaxCrossEntropy()
    opt = SGD(model, lr=1e-3, momentum=0.9)
    ms_np = median_ms(lambda: train_step(model, loss_fn, opt, x, y), repeats, warmup=10)

    net = torch.nn.Sequential(torch.nn.Linear(3072, 100), torch.nn.ELU(),
                              torch.nn.Linear(100, 10))
    topt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    crit = torch.nn.CrossEntropyLoss()

    def torch_step():
        topt.zero_grad(set_to_none=True)
        loss = crit(net(tx), ty)
        loss.backward()
        topt.step()
        return loss

    ms_torch = median_ms(torch_step, repeats, warmup=10)
    return {"workload": "MLP 3072-100-10 ELU, batch 200, float32, train step (SGD momentum)",
            "numpy_ms": round(ms_np, 3), "torch_ms": round(ms_torch, 3),
            "ratio": round(ms_np / ms_torch, 3), "target_ratio": MLP_TARGET,
            "met": ms_np / ms_torch <= MLP_TARGET}


def bench_conv(torch, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3, 32, 32)).astype(np.float32)
    conv = Conv2d(3, 32, 5, stride=1, padding=2, dtype=np.float32, rng=0)
    dout = rng.standard_normal((64, 32, 32, 32)).astype(np.float32)

    def np_step():
        conv.forward(x)
        return conv.backward(dout)

    ms_np = median_ms(np_step, repeats, warmup=3)

    tconv = torch.nn.Conv2d(3, 32, 5, stride=1, padding=2)
    tx = torch.from_numpy(x).requires_grad_(True)
    tdout = torch.from_numpy(dout)

    def torch_step():
        tconv.zero_grad(set_to_none=True)
        tx.grad = None
        tconv(tx).backward(tdout)
        return tx.grad

    ms_torch = median_ms(torch_step, repeats, warmup=3)
    return {"workload": "Conv2d 3->32, 5x5, pad 2, batch 64 of 3x32x32, float32, "
                        "forward+backward incl. input grad",
            "numpy_ms": round(ms_np, 3), "torch_ms": round(ms_torch, 3),
            "ratio": round(ms_np / ms_torch, 3), "target_ratio": CONV_TARGET,
            "met": ms_np / ms_torch <= CONV_TARGET}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for both NumPy's BLAS and torch (default: all cores)")
    parser.add_argument("--repeats", type=int, default=100, help="timed repeats (MLP)")
    parser.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        threads = {"torch": torch.get_num_threads(), "numpy_blas": blas_threads()}
        print(f"cpu: {cpu_name()} ({os.cpu_count()} logical cores)")
        print(f"threads: torch={threads['torch']}, numpy {threads['numpy_blas']}")
        mlp = bench_mlp(torch, args.repeats)
        conv = bench_conv(torch, max(args.repeats // 4, 10))

    for r in (mlp, conv):
        verdict = "met" if r["met"] else "NOT met"
        print(f"{r['workload']}\n  numpy {r['numpy_ms']:.2f} ms | torch {r['torch_ms']:.2f} ms"
              f" | ratio {r['ratio']:.2f} (target <= {r['target_ratio']}: {verdict})")

    if args.write:
        result = {
            "benchmark": "scratch_speed",
            "command": "python benchmarks/scratch_speed.py " + " ".join(argv or sys.argv[1:]),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "hardware": {"cpu": cpu_name(), "logical_cores": os.cpu_count(),
                         "machine": platform.machine()},
            "versions": {"python": platform.python_version(), "numpy": np.__version__,
                         "torch": torch.__version__},
            "threads": threads,
            "results": {"mlp_train_step": mlp, "conv2d_fwd_bwd": conv},
        }
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
