"""Speed of the NumPy engine (neuralab.scratch) against PyTorch eager on the CPU.

Two workloads, each timed in the same process for both frameworks:

1. one training step (forward, loss, backward, SGD-with-momentum update) of an MLP
   3072-100-10 with ELU, batch 200, float32 (UvA practical 1's default network);
2. forward + backward of a Conv2d 3 -> 32 channels, 5x5 kernel, padding 2, on a float32
   batch of 64 CIFAR-sized images (input gradient included in both).

The two frameworks are timed in alternating rounds (so that a change in the machine's load
hits both alike); each figure is the median over all repeats after warm-up, as wall-clock
time (the target is judged on it) and as process CPU time. NumPy's BLAS (OpenBLAS, via
threadpoolctl) and torch are given the same number of threads: 1 by default, because on a
shared machine multi-threaded BLAS timings swing by 10x when another process holds a core;
pass ``--threads N`` to use more. Targets: MLP step <= 0.8x torch's time, Conv2d <= 2x.

    python benchmarks/scratch_speed.py [--threads N] [--repeats R] [--write]

NumPy's GEMM speed depends on the kernels OpenBLAS picked (recorded as ``numpy_blas``): on an
AVX-512 CPU its own choice is ``SkylakeX``, but an ``OPENBLAS_CORETYPE=Haswell`` in the
environment (as on the 2026-11-24 machine) restricts it to AVX2 kernels, ~1.6x slower here,
while torch keeps its AVX-512 code. ``env -u OPENBLAS_CORETYPE python ...`` measures the other.

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
from neuralab.system import cpu_model, cpu_simd  # noqa: E402

OUT = ROOT / "results" / "benchmarks" / "scratch_speed.json"
MLP_TARGET, CONV_TARGET = 0.8, 2.0


def interleaved(fns: dict, rounds: int, per_round: int, warmup: int) -> dict:
    """Time each callable ``rounds * per_round`` times, alternating between them every
    ``per_round`` calls; return name -> (median wall ms, median CPU ms)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    wall = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(per_round):
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                cpu[name].append(time.process_time() - c0)
                wall[name].append(time.perf_counter() - w0)
    return {k: (1e3 * statistics.median(wall[k]), 1e3 * statistics.median(cpu[k]))
            for k in fns}


def summary(workload: str, timings: dict, target: float) -> dict:
    (np_wall, np_cpu), (t_wall, t_cpu) = timings["numpy"], timings["torch"]
    ratio = np_wall / t_wall
    return {"workload": workload, "numpy_ms": round(np_wall, 3), "torch_ms": round(t_wall, 3),
            "ratio": round(ratio, 3), "numpy_cpu_ms": round(np_cpu, 3),
            "torch_cpu_ms": round(t_cpu, 3), "cpu_ratio": round(np_cpu / t_cpu, 3),
            "target_ratio": target, "met": ratio <= target}


def cpu_info() -> dict:
    """Model name and SIMD flags (:mod:`neuralab.system`), plus the family/model numbers
    from /proc/cpuinfo (Linux), which tell CPU generations of one marketing name apart."""
    info = {"cpu": cpu_model(), "simd": cpu_simd()}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    info["cpu_family_model"] = f"{fields.get('cpu family', '?')}/{fields.get('model', '?')}"
    return info


def blas_libraries() -> list[dict]:
    """The BLAS libraries NumPy loaded, their threads and the kernel family each picked:
    OpenBLAS chooses its kernels from the CPU (e.g. ``Haswell`` = AVX2, ``SkylakeX`` =
    AVX-512) unless ``OPENBLAS_CORETYPE`` names them, so the same machine can run either."""
    from threadpoolctl import threadpool_info  # main() needs threadpoolctl anyway

    return [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for i in threadpool_info() if i["user_api"] == "blas"]


def blas_threads(blas: list[dict]) -> str:
    return ", ".join(f"{b['internal_api']}={b['num_threads']}" for b in blas) or "none found"


def bench_mlp(torch, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3072)).astype(np.float32)
    y = rng.integers(0, 10, size=200)

    model = MLP(3072, [100], 10, activation="elu", dtype=np.float32, rng=0)
    loss_fn = SoftmaxCrossEntropy()
    opt = SGD(model, lr=1e-3, momentum=0.9)

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

    timings = interleaved({"numpy": lambda: train_step(model, loss_fn, opt, x, y),
                           "torch": torch_step}, rounds=repeats // 10, per_round=10, warmup=10)
    return summary("MLP 3072-100-10 ELU, batch 200, float32, train step (SGD momentum)",
                   timings, MLP_TARGET)


def bench_conv(torch, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3, 32, 32)).astype(np.float32)
    conv = Conv2d(3, 32, 5, stride=1, padding=2, dtype=np.float32, rng=0)
    dout = rng.standard_normal((64, 32, 32, 32)).astype(np.float32)

    def np_step():
        conv.forward(x)
        return conv.backward(dout)

    tconv = torch.nn.Conv2d(3, 32, 5, stride=1, padding=2)
    tx = torch.from_numpy(x).requires_grad_(True)
    tdout = torch.from_numpy(dout)

    def torch_step():
        tconv.zero_grad(set_to_none=True)
        tx.grad = None
        tconv(tx).backward(tdout)
        return tx.grad

    timings = interleaved({"numpy": np_step, "torch": torch_step}, rounds=repeats // 2,
                          per_round=2, warmup=3)
    return summary("Conv2d 3->32, 5x5, pad 2, batch 64 of 3x32x32, float32, "
                   "forward+backward incl. input grad", timings, CONV_TARGET)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for both NumPy's BLAS and torch (default: 1)")
    parser.add_argument("--repeats", type=int, default=300,
                        help="timed repeats of the MLP step (the Conv2d gets a fifth)")
    parser.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    parser.add_argument("--out", type=Path, default=OUT, help="where --write puts the JSON")
    args = parser.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = blas_libraries()
        threads = {"torch": torch.get_num_threads(), "numpy_blas": blas_threads(blas)}
        hw = {**cpu_info(), "logical_cores": os.cpu_count(), "machine": platform.machine()}
        print(f"cpu: {hw['cpu']} ({hw['logical_cores']} logical cores, "
              f"{' '.join(hw.get('simd', []))}); load average {os.getloadavg()[0]:.1f}")
        print(f"threads: torch={threads['torch']}, numpy {threads['numpy_blas']}")
        coretype = os.environ.get("OPENBLAS_CORETYPE")
        print("numpy BLAS kernels: " + (", ".join(f"{b['internal_api']} {b['version']} "
                                                  f"{b['architecture']}" for b in blas)
                                        or "unknown")
              + (f" (OPENBLAS_CORETYPE={coretype})" if coretype is not None else ""))
        mlp = bench_mlp(torch, args.repeats)
        conv = bench_conv(torch, max(args.repeats // 5, 10))

    for r in (mlp, conv):
        verdict = "met" if r["met"] else "NOT met"
        print(f"{r['workload']}\n  numpy {r['numpy_ms']:.2f} ms | torch {r['torch_ms']:.2f} ms"
              f" | ratio {r['ratio']:.2f} (target <= {r['target_ratio']}: {verdict})"
              f"\n  CPU time: numpy {r['numpy_cpu_ms']:.2f} ms | torch {r['torch_cpu_ms']:.2f} ms"
              f" | ratio {r['cpu_ratio']:.2f}")

    if args.write:
        result = {
            "benchmark": "scratch_speed",
            "command": "python benchmarks/scratch_speed.py " + " ".join(argv or sys.argv[1:]),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "hardware": hw,
            "load_average_1m": round(os.getloadavg()[0], 2),
            "versions": {"python": platform.python_version(), "numpy": np.__version__,
                         "torch": torch.__version__},
            "threads": threads,
            "numpy_blas": [{k: v for k, v in b.items() if k != "num_threads"} for b in blas],
            "environment": {"OPENBLAS_CORETYPE": coretype},
            "results": {"mlp_train_step": mlp, "conv2d_fwd_bwd": conv},
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
