"""Training throughput of a model: images per second for forward + backward + SGD step.

Used to size the CPU models (:mod:`neuralab.models.fastcnn`) and by the speed benchmarks.
Synthetic data, so only the model is timed (no data loading or augmentation).

``clock="wall"`` gives what a user sees on an idle machine. On a shared machine use
``clock="cpu"`` with ``threads=1``: images per CPU-second of this process, which other
processes barely disturb (a multi-threaded run under contention loses time in OpenMP
barriers, which wall time and CPU time both count).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn


def train_throughput(
    model: nn.Module,
    input_shape: tuple[int, ...] = (3, 32, 32),
    n_classes: int = 10,
    batch_size: int = 256,
    channels_last: bool = False,
    seconds: float = 3.0,
    threads: int | None = None,
    clock: str = "wall",
    warmup_steps: int = 2,
) -> float:
    """Images per second (or per CPU-second) of SGD training steps on random data.

    Runs ``warmup_steps`` untimed steps, then whole steps until ``seconds`` of ``clock``
    (``"wall"`` or ``"cpu"``) have passed. ``threads`` sets ``torch.set_num_threads`` for
    the measurement and restores it afterwards. The model is trained in place.
    """
    timer = {"wall": time.perf_counter, "cpu": time.process_time}[clock]
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        x = torch.randn(batch_size, *input_shape)
        y = torch.randint(0, n_classes, (batch_size,))
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()

        for _ in range(warmup_steps):
            step()
        images, start = 0, timer()
        while True:
            step()
            images += batch_size
            elapsed = timer() - start
            if elapsed >= seconds:
                return images / elapsed
    finally:
        torch.set_num_threads(old_threads)
