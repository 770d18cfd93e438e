"""PyTorch's own distributed engine, used as is: torchrun launches, DDP averages gradients.

``torchrun`` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT; :func:`init_from_env` turns
them into a process group (nccl on CUDA, gloo on CPU) with a timeout, so a dead rank ends the
others with an error instead of a hang. Outside torchrun everything here is a no-op and
``world_size`` is 1.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import NoReturn

import torch
import torch.distributed as dist

from neuralab.errors import NeuralabError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def current() -> DistInfo:
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(),
                        int(os.environ.get("LOCAL_RANK", 0)))
    return DistInfo()


def init_from_env(device: str, timeout_s: float = 120.0) -> DistInfo:
    """Join the process group torchrun prepared (idempotent; a no-op outside torchrun)."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend=backend, timeout=dt.timedelta(seconds=timeout_s))
    return current()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over ranks (returns ``t`` unchanged in a single process)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        backend = dist.get_backend()
        moved = t.cpu() if backend == "gloo" and t.device.type != "cpu" else t
        dist.all_reduce(moved, op=dist.ReduceOp.SUM)
        return moved.to(t.device)
    return t


def shutdown(wait: bool = True) -> None:
    """Leave the process group together: wait for every rank, then destroy it (a rank that
    exits while gloo threads of the group are alive, or while a peer still uses them, can abort
    with SIGABRT)."""
    if dist.is_available() and dist.is_initialized():
        if wait and dist.get_world_size() > 1:  # no waiting on peers that may be dead
            dist.barrier()
        dist.destroy_process_group()


def is_torchrun_worker() -> bool:
    """True in a process that torchrun started for a job of more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "LOCAL_RANK" in os.environ


def exit_worker(code: int) -> NoReturn:
    """End a torchrun worker now that its work is written and the group is left.

    ``os._exit`` skips the interpreter's and C++'s exit-time destructors: there a gloo or
    TCPStore thread that is still joinable can abort a finished run with SIGABRT ("terminate
    called without an active exception"), which torchrun reports as a failed job. Seen here
    intermittently with two c10d "nodes" on one machine even after destroy_process_group.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank (``obj`` itself in a single process)."""
    if not _active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_object(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``[obj]`` in a single process)."""
    if not _active():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if _active():
        dist.barrier()


def local_device(device: str) -> str:
    """``cuda`` -> ``cuda:LOCAL_RANK`` under torchrun, so each rank drives its own GPU."""
    if device == "cuda" and "LOCAL_RANK" in os.environ:
        return f"cuda:{os.environ['LOCAL_RANK']}"
    return device


def launch_torchrun(nproc: int, argv: list[str]) -> int:
    """Re-run this very command under ``torchrun --nproc_per_node nproc`` (single node)."""
    args = [a for i, a in enumerate(argv) if not _is_nproc_arg(argv, i)]
    torchrun = shutil.which("torchrun")
    cmd = ([torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"])
    cmd += ["--nproc_per_node", str(nproc), "--standalone", "-m", "neuralab", *args]
    print("launching: " + " ".join(cmd), file=sys.stderr)
    try:
        return subprocess.call(cmd)
    except OSError as err:
        raise NeuralabError(f"could not launch torchrun: {err}") from None


def _is_nproc_arg(argv: list[str], i: int) -> bool:
    a = argv[i]
    return a.startswith("--nproc=") or a == "--nproc" or (i > 0 and argv[i - 1] == "--nproc")
