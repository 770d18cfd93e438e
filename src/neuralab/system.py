"""Where a run happens: hardware, library versions, device choice and seeding; how long a
call takes (for the benchmarks)."""

from __future__ import annotations

import os
import platform
import random
import sys
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (or platform's guess elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")


def cpu_simd() -> list[str]:
    """The vector-instruction flags that decide CPU training speed (empty off Linux): two CPUs
    of the same name can differ (e.g. AVX-512 or not), so timings record them."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [flag for flag in SIMD_FLAGS if flag in flags]
    except OSError:
        pass
    return []


def hardware(device: str | None = None) -> dict:
    """A small JSON-able description of the machine: CPU, its SIMD flags, cores, GPU and the
    device used."""
    info = {"cpu": cpu_model(), "cpu_simd": cpu_simd(), "cpu_cores": os.cpu_count(),
            "gpu": None, "device": device}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    return info


def hardware_line(hw: dict) -> str:
    """``"AMD EPYC (2 cores, AVX-512), cpu"`` or ``"NVIDIA H200, cuda"``: one line for tables
    (results recorded before the SIMD flags were kept show no flag)."""
    simd = hw.get("cpu_simd") or []
    extra = ", AVX-512" if "avx512f" in simd else ", AVX2" if "avx2" in simd else ""
    where = hw.get("gpu") or f"{hw.get('cpu')} ({hw.get('cpu_cores')} cores{extra})"
    return f"{where}, {hw.get('device') or '?'}"


def versions() -> dict:
    """Versions of Python and the numerical libraries that are loaded (nothing is imported)."""
    from neuralab._version import __version__

    out = {"neuralab": __version__, "python": platform.python_version(), "numpy": np.__version__}
    for name in ("torch", "torchvision"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = module.__version__
    return out


def measured_here(script: str, argv: list[str] | None, device: str = "cpu") -> dict:
    """Where and how a measurement was taken, for a results file: the ``hardware``, the
    library ``versions``, the UTC ``date`` and the ``command`` that re-runs it
    (``python SCRIPT ARGS``; ``argv`` None: this process's own arguments)."""
    import datetime as dt

    args = sys.argv[1:] if argv is None else argv
    return {"hardware": hardware(device), "versions": versions(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(["python", script, *args])}


def best_ms(fn, repeats: int, rounds: int = 3, warmup: int = 3) -> float:
    """How long one call of ``fn`` takes, in ms: the fastest of ``rounds`` averages of
    ``repeats`` calls, after ``warmup`` calls (kernels chosen, caches and allocator warm)."""
    import time

    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best * 1e3


def resolve_device(requested: str | None = "auto") -> str:
    """``auto`` picks cuda, then mps, then cpu; anything else is passed through and checked."""
    from neuralab.errors import NeuralabError

    requested = requested or "auto"
    if requested == "cpu":
        return "cpu"
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise NeuralabError(f"--device {requested}: CUDA is not available here; use --device cpu")
    if requested == "mps" and not torch.backends.mps.is_available():
        raise NeuralabError("--device mps: MPS is not available here; use --device cpu")
    if not (requested.startswith("cuda") or requested == "mps"):
        raise NeuralabError(f"unknown --device {requested!r}; use auto, cpu, cuda, cuda:N or mps")
    return requested


# glibc's mallopt(3) parameters
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


@lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Let this process reuse the memory its large tensors free instead of handing it back to
    the kernel; whether that is in effect (Linux with glibc only; idempotent).

    glibc serves every block over 32 MB with its own ``mmap`` and unmaps it on ``free``, so on
    a CPU each training step's activations (hundreds of MB at batch 2,000) arrive as fresh
    pages: one page fault and a kernel-zeroed 4 KB page at a time. ``mallopt(M_MMAP_MAX, 0)``
    serves large blocks from the heap and ``mallopt(M_TRIM_THRESHOLD, -1)`` keeps freed heap
    memory, so the next step reuses it. The price: the process keeps its peak heap size until
    it exits (as PyTorch's CUDA caching allocator does on a GPU). Measured by
    ``benchmarks/freed_memory.py`` on a 2-core Zen 4 (2026-12-07): a bf16 step of the airbench
    net at batch 2,000 went from 4.78 s (1.66 CPU-s in the kernel, 782,240 page faults) to
    3.69 s (none), peak memory 2.75 -> 3.05 GB; cnn_best at batch 256, whose tensors are under
    32 MB, is unchanged. ``NEURALAB_KEEP_FREED_MEMORY=0`` in the environment turns it off.
    """
    wanted = os.environ.get("NEURALAB_KEEP_FREED_MEMORY", "1").strip() not in ("0", "")
    if not (wanted and sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, -1))
    except (OSError, AttributeError):
        return False


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (when loaded) torch, so CPU runs are reproducible."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
