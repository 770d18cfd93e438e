"""Speed of the NumPy engine (neuralab.scratch) against PyTorch eager on the CPU.

Two workloads, each timed in the same process for both frameworks:

1. one training step (forward, loss, backward, SGD-with-momentum update) of an MLP
   3072-100-10 with ELU, batch 200, float32 (UvA practical 1's default network);
2. forward + backward of a Conv2d 3 -> 32 channels, 5x5 kernel, padding 2, on a float32
   batch of 64 CIFAR-sized images (input gradient included in both).

The MLP step is also timed as straight-line NumPy with no modules ("raw"), the floor the
engine's abstraction is measured against (``engine / raw`` is what the modules cost).

The frameworks are timed in alternating rounds (so that a change in the machine's load hits
all alike); each figure is the median over all repeats after warm-up, as wall-clock time (the
target is judged on it) and as process CPU time. NumPy's BLAS (OpenBLAS, via threadpoolctl) and
torch are given the same number of threads. By default the benchmark runs twice: with 1 thread
and with every core this process may use (both libraries' own default); ``--threads 1,2``
picks the counts. Multi-threaded timings need an otherwise idle machine: they swing by up to
10x when another process holds a core (the load average is recorded). Targets: MLP step <= 0.8x
torch's time, Conv2d <= 2x.

    python benchmarks/scratch_speed.py [--threads 1,N] [--repeats R] [--write]

NumPy's GEMM speed depends on the kernels OpenBLAS picked (recorded as ``numpy_blas``): on an
AVX-512 CPU its own choice is ``SkylakeX``, but an ``OPENBLAS_CORETYPE=Haswell`` in the
environment (as on the 2026-11-24 machine) restricts it to AVX2 kernels, ~1.5x slower there.
torch's step time did not change when its MKL, oneDNN and ATen kernels were all held to AVX2
(``MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2``: 2.79 vs
2.74 ms), so the pinned run compares AVX2 with AVX2. ``env -u OPENBLAS_CORETYPE python ...``
measures OpenBLAS's own choice.

``--write`` stores the results as JSON in results/benchmarks/scratch_speed.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from neuralab.io import write_json  # noqa: E402
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

    raw_step = raw_numpy_mlp_step(x, y, lr=1e-3, momentum=0.9)
    timings = interleaved({"numpy": lambda: train_step(model, loss_fn, opt, x, y),
                           "torch": torch_step, "raw": raw_step},
                          rounds=repeats // 10, per_round=10, warmup=10)
    result = summary("MLP 3072-100-10 ELU, batch 200, float32, train step (SGD momentum)",
                     timings, MLP_TARGET)
    raw_ms = timings["raw"][0]
    result.update(raw_numpy_ms=round(raw_ms, 3), raw_ratio=round(raw_ms / timings["torch"][0], 3),
                  engine_over_raw=round(timings["numpy"][0] / raw_ms, 3))
    return result


def raw_numpy_mlp_step(x: np.ndarray, y: np.ndarray, lr: float, momentum: float):
    """The same MLP training step as straight-line NumPy, no modules: the reference for what
    the engine's abstraction costs. Returns a closure that runs one step in place."""
    rng = np.random.default_rng(1)
    w1 = (rng.standard_normal((100, 3072)) * 0.02).astype(np.float32)
    w2 = (rng.standard_normal((10, 100)) * 0.1).astype(np.float32)
    b1, b2 = np.zeros(100, np.float32), np.zeros(10, np.float32)
    params = [w1, b1, w2, b2]
    velocity = [np.zeros_like(p) for p in params]
    rows = np.arange(len(x))

    def step() -> None:
        h = x @ w1.T + b1                                   # [S, 100]
        a = np.maximum(h, 0) + np.expm1(np.minimum(h, 0))   # ELU
        z = a @ w2.T + b2                                   # [S, 10]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[rows, y] -= 1                                     # dL/dz * S
        p /= len(x)
        da = p @ w2
        dh = da * (np.minimum(a, 0) + 1)                    # ELU backward (alpha 1)
        grads = [dh.T @ x, dh.sum(axis=0), p.T @ a, p.sum(axis=0)]
        for param, vel, grad in zip(params, velocity, grads, strict=True):
            vel *= momentum
            vel -= lr * grad
            param += vel

    return step


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


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_counts(text: str | None) -> list[int]:
    """``"1,2"`` -> ``[1, 2]``; the default is 1 and every available core."""
    if text is None:
        return sorted({1, available_cores()})
    try:
        counts = [int(t) for t in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise SystemExit(f"error: --threads takes counts >= 1 separated by commas, not {text!r}")
    return counts


def run_at(torch, threads: int, repeats: int) -> dict:
    """Both workloads with ``threads`` threads for NumPy's BLAS and for torch."""
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads, user_api="blas"):
        blas = blas_libraries()
        used = {"torch": torch.get_num_threads(), "numpy_blas": blas_threads(blas)}
        print(f"\nthreads: torch={used['torch']}, numpy {used['numpy_blas']}; "
              f"load average {os.getloadavg()[0]:.1f}")
        mlp = bench_mlp(torch, repeats)
        conv = bench_conv(torch, max(repeats // 5, 10))
    for r in (mlp, conv):
        verdict = "met" if r["met"] else "NOT met"
        print(f"{r['workload']}\n  numpy {r['numpy_ms']:.2f} ms | torch {r['torch_ms']:.2f} ms"
              f" | ratio {r['ratio']:.2f} (target <= {r['target_ratio']}: {verdict})"
              f"\n  CPU time: numpy {r['numpy_cpu_ms']:.2f} ms | torch {r['torch_cpu_ms']:.2f} ms"
              f" | ratio {r['cpu_ratio']:.2f}")
        if "raw_numpy_ms" in r:
            print(f"  raw NumPy (no modules) {r['raw_numpy_ms']:.2f} ms: ratio to torch "
                  f"{r['raw_ratio']:.2f}; engine / raw {r['engine_over_raw']:.2f}")
    return {"threads": used, "load_average_1m": round(os.getloadavg()[0], 2),
            "results": {"mlp_train_step": mlp, "conv2d_fwd_bwd": conv}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default=None,
                        help="thread counts for both NumPy's BLAS and torch, comma-separated "
                             "(default: 1 and every available core)")
    parser.add_argument("--repeats", type=int, default=300,
                        help="timed repeats of the MLP step (the Conv2d gets a fifth)")
    parser.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    parser.add_argument("--out", type=Path, default=OUT, help="where --write puts the JSON")
    args = parser.parse_args(argv)
    counts = thread_counts(args.threads)

    import torch

    hw = {**cpu_info(), "logical_cores": os.cpu_count(), "available_cores": available_cores(),
          "machine": platform.machine()}
    blas = blas_libraries()
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    print(f"cpu: {hw['cpu']} ({hw['logical_cores']} logical cores, "
          f"{' '.join(hw.get('simd', []))})")
    print("numpy BLAS kernels: " + (", ".join(f"{b['internal_api']} {b['version']} "
                                              f"{b['architecture']}" for b in blas)
                                    or "unknown")
          + (f" (OPENBLAS_CORETYPE={coretype})" if coretype is not None else ""))
    runs = [run_at(torch, n, args.repeats) for n in counts]

    if args.write:
        result = {
            "benchmark": "scratch_speed",
            "command": "python benchmarks/scratch_speed.py " + " ".join(argv or sys.argv[1:]),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "hardware": hw,
            "versions": {"python": platform.python_version(), "numpy": np.__version__,
                         "torch": torch.__version__},
            "numpy_blas": [{k: v for k, v in b.items() if k != "num_threads"} for b in blas],
            "environment": {"OPENBLAS_CORETYPE": coretype},
            "runs": runs,
        }
        write_json(args.out, result)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
