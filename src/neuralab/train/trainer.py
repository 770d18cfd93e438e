"""The Trainer: one loop for every PyTorch experiment, from a laptop CPU to torchrun + DDP.

    trainer = Trainer(model, optimizer, train_loader, val_loader=val_loader,
                      settings=TrainSettings(max_epochs=10, eval_every=500, patience=4),
                      checkpoint_dir=ctx.checkpoint_dir)
    history = trainer.fit(resume=ctx.resume)

It trains for an epoch or a step budget, evaluates on the validation split every ``eval_every``
steps (else once per epoch), checkpoints every epoch (and every ``checkpoint_every`` steps) with
everything exact resume needs, and stops with a clear error when training diverges: a nan/inf
loss, a loss exploding far above its start, or weights overflowing (the last good checkpoint
stays, and a checkpoint is written only when every tensor in it is finite). History is returned
as data; plotting is :mod:`neuralab.viz`'s job.

What differs between experiments is a callback (:mod:`neuralab.train.callbacks`): when to stop
(:class:`EarlyStopping` on the validation loss is the default when ``patience`` is set, an
:class:`AccuracyPlateau`, ...), what to do on a non-finite loss (raise, or
:class:`StopOnNonFinite`), what to measure (:class:`TimeToAccuracy`), what to print
(:class:`PrintEvaluations`, on by default: one line per evaluation).

Under torchrun the model is wrapped in DistributedDataParallel, each rank trains on its shard
of the loader, metrics are all-reduced and only rank 0 writes checkpoints.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from neuralab.errors import NeuralabError
from neuralab.progress import progress
from neuralab.system import keep_freed_memory
from neuralab.train import checkpoint as ckpt
from neuralab.train.callbacks import (
    Callback,
    DivergenceGuard,
    EarlyStopping,
    PrintEvaluations,
)
from neuralab.train.distributed import DistInfo, all_gather_object, all_reduce_sum, barrier, current
from neuralab.train.metrics import compute_loss_and_accuracy


@dataclass
class TrainSettings:
    """The knobs of the loop (the model, data and optimiser are the experiment's business)."""

    max_epochs: int | None = None
    max_steps: int | None = None
    eval_every: int | None = None  # steps between validations; None: at every epoch end
    patience: int | None = None  # evaluations without val-loss improvement before stopping
    restore_best: bool = False  # load the best-validation weights at the end
    grad_clip: float | None = None  # max global gradient norm
    amp: bool = True  # mixed precision, used on CUDA only (bf16 if supported, else fp16)
    checkpoint_every: int | None = None  # extra checkpoints every N steps (besides epochs)
    scheduler_interval: str = "step"  # "step" or "epoch"
    sync_batchnorm: bool = False  # under DDP: batch statistics over all ranks (CUDA only)
    cudnn_benchmark: bool = True  # on CUDA: let cuDNN time and pick its fastest kernels
    compile: bool = False  # torch.compile the model's forward (pays off on GPUs; on a 2-core
    # CPU it was not faster for the airbench net, 2026-11-24)
    show_progress: bool = True  # the live bar and one printed line per evaluation
    guard_divergence: bool = True  # stop on an exploding (finite) loss or overflowing weights
    keep_freed_memory: bool = True  # on a CPU: reuse freed tensor memory instead of page
    # faulting in fresh pages for every step's activations (neuralab.system.keep_freed_memory);
    # process-wide, and `neuralab run` turns it on itself: NEURALAB_KEEP_FREED_MEMORY=0 stops both
    precision: str = "fp32"  # on a CPU: fp32 | bf16 (autocast) | auto (bf16 only where the CPU
    # has it and a probe of the first batch measured it faster); on CUDA fp32 and auto keep
    # `amp`'s mixed precision, bf16 forces bf16 autocast


PRECISIONS = ("fp32", "bf16", "auto")


class NonFiniteLoss(NeuralabError):
    """Training diverged (nan/inf loss, exploding loss or weights); the message says where."""


class Trainer:
    """Train ``model`` with ``optimizer`` on ``train_loader``; see the module docstring.

    Default callbacks come first (:class:`DivergenceGuard` unless ``guard_divergence`` is off,
    :class:`EarlyStopping` on ``val_loss`` when ``patience`` or ``restore_best`` is set,
    :class:`PrintEvaluations` when ``show_progress``), then ``callbacks`` in the given order.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 train_loader: Iterable, *, val_loader: Iterable | None = None,
                 loss_fn: Callable = F.cross_entropy, scheduler: Any = None,
                 settings: TrainSettings | None = None, device: str | torch.device = "cpu",
                 checkpoint_dir: str | Path | None = None, dist: DistInfo | None = None,
                 log: Callable[[str], None] | None = None, track_accuracy: bool = True,
                 extra_eval: dict[str, Iterable] | None = None,
                 callbacks: Iterable[Callback] = ()):
        self.settings = settings or TrainSettings()
        s = self.settings
        if s.max_epochs is None and s.max_steps is None:
            raise ValueError("give max_epochs or max_steps")
        self.device = torch.device(device)
        if self.device.type == "cpu" and s.keep_freed_memory:
            keep_freed_memory()
        if self.device.type == "cuda" and s.cudnn_benchmark:
            torch.backends.cudnn.benchmark = True  # input shapes are fixed: tuning pays off
        self.dist = dist or current()
        self.model = model.to(self.device)
        self.module = self.model  # the unwrapped model: evaluation and checkpoints use it
        if s.compile:
            self.module.compile()  # in place: state_dict keys and checkpoints are unchanged
        if self.dist.enabled:
            if s.sync_batchnorm and self.device.type == "cpu":
                raise NeuralabError("sync_batchnorm needs GPUs: PyTorch's SyncBatchNorm has no "
                                    "CPU kernel; train without it on CPUs")
            if s.sync_batchnorm:
                self.module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.module)
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(self.module, device_ids=ids)
        self.optimizer, self.scheduler, self.loss_fn = optimizer, scheduler, loss_fn
        self.train_loader, self.val_loader = train_loader, val_loader
        # splits evaluated at every evaluation for the record only (never for early stopping),
        # e.g. {"test": loader} to draw train, validation and test curves on one figure
        self.extra_eval = dict(extra_eval or {})
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self._log = log or _print_to_stderr
        self.track_accuracy = track_accuracy
        if s.precision not in PRECISIONS:
            raise NeuralabError(f"unknown precision {s.precision!r}; use "
                                f"{' | '.join(PRECISIONS)}")
        use_amp = s.amp and self.device.type == "cuda"
        self.amp_dtype = (torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported()
                          else torch.float16 if use_amp else None)
        if s.precision == "bf16":
            if self.device.type == "cpu" and not cpu_has_bf16():
                raise NeuralabError("precision=bf16 needs a CPU with bfloat16 instructions "
                                    "(avx512_bf16 or AMX); this one has none: use fp32")
            self.amp_dtype = torch.bfloat16
        # what the training steps run in: "fp32", "bf16" or "fp16"; "auto" on a CPU is settled
        # by a probe at the first step (see _choose_precision)
        self.precision = _name(self.amp_dtype) if s.precision != "auto" or (
            self.device.type != "cpu") else "auto"
        self.precision_probe: dict[str, float] | None = None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        defaults: list[Callback] = []
        if s.guard_divergence:
            # on a GPU every look at the loss is a sync: check every 50 steps there
            defaults.append(DivergenceGuard(every=1 if self.device.type == "cpu" else 50))
        if s.patience is not None or s.restore_best:
            defaults.append(EarlyStopping("val_loss", s.patience, restore_best=s.restore_best))
        if s.show_progress:
            defaults.append(PrintEvaluations())
        self.callbacks: list[Callback] = [*defaults, *callbacks]
        # counters: all saved in checkpoints
        self.step, self.epoch = 0, 0
        self.samples_seen = 0  # training samples of this rank, for throughput
        self.history: list[dict[str, Any]] = []
        self.elapsed_s = 0.0  # wall time inside fit(), evaluations included
        self.eval_s = 0.0  # of which spent in evaluations
        self.stop_reason: str | None = None  # why training ended before its budget
        self.diverged = False  # stopped (not raised) on a non-finite loss
        self.restored_step: int | None = None  # step of the weights restored at the end
        self._last_good_step: int | None = None  # step of the newest checkpoint on disk
        self._bar = None
        self._t0 = time.perf_counter()
        self._sums = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss*n, hits, n

    # ----------------------------------------------------------------- callbacks
    def callback(self, kind: type[Callback]) -> Callback | None:
        """The first callback of class ``kind`` (e.g. ``trainer.callback(EarlyStopping)``)."""
        return next((c for c in self.callbacks if isinstance(c, kind)), None)

    def request_stop(self, reason: str) -> None:
        """End training after the current step or evaluation (callbacks call this)."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.log(f"stopping at step {self.step}: {reason}")

    @property
    def stopped_early(self) -> bool:
        return self.stop_reason is not None

    def log(self, message: str) -> None:
        """A message that never collides with the progress bar (and only from rank 0)."""
        if not self.dist.is_main:
            return
        bar = self._bar
        if bar is not None and hasattr(bar, "external_write_mode"):
            with bar.external_write_mode():
                self._log(message)
        else:
            self._log(message)

    # ----------------------------------------------------------------- budget
    @property
    def steps_per_epoch(self) -> int | None:
        try:
            return len(self.train_loader)
        except TypeError:
            return None

    @property
    def total_steps(self) -> int:
        s, spe = self.settings, self.steps_per_epoch
        by_epochs = s.max_epochs * spe if s.max_epochs is not None and spe else math.inf
        by_steps = s.max_steps if s.max_steps is not None else math.inf
        total = min(by_epochs, by_steps)
        if total == math.inf:
            raise ValueError("an endless loader needs max_steps")
        return int(total)

    def _done(self) -> bool:
        return self.step >= self.total_steps or self.stopped_early

    # ----------------------------------------------------------------- one step
    def autocast(self):
        """The context training and evaluation run in (bf16/fp16 autocast, or nothing)."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype,
                              enabled=self.amp_dtype is not None)

    def _choose_precision(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """precision=auto on a CPU: bf16 only when the CPU has bf16 instructions and a
        forward + backward of this batch on a copy of the model is at least 10% faster in
        bf16 (best of 3 after a warm-up); the RNG states are restored, so the run is the
        same as without the probe. The times go to ``precision_probe``."""
        self.precision, self.amp_dtype = "fp32", None
        if not cpu_has_bf16():
            self.precision_probe = {"bf16_supported": False}
            return
        rng = torch.get_rng_state()
        probe = copy.deepcopy(self.module).train()
        times = {}
        for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
            best = math.inf
            for i in range(4):
                started = time.perf_counter()
                with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                    loss = self.loss_fn(probe(x), y)
                loss.backward()
                probe.zero_grad(set_to_none=True)
                if i:  # the first pass warms up kernels and caches
                    best = min(best, time.perf_counter() - started)
            times[f"{name}_ms"] = round(1000 * best, 3)
        torch.set_rng_state(rng)
        self.precision_probe = {"bf16_supported": True, **times}
        if times["bf16_ms"] < 0.9 * times["fp32_ms"]:
            self.precision, self.amp_dtype = "bf16", torch.bfloat16
        self.log(f"precision=auto: {self.precision} (one step of this batch: fp32 "
                 f"{times['fp32_ms']:.1f} ms, bf16 {times['bf16_ms']:.1f} ms)")

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        s = self.settings
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        if self.precision == "auto":
            self._choose_precision(x, y)
        self.model.train()
        with self.autocast():
            out = self.model(x)
            loss = self.loss_fn(out, y)
        # on a CPU the check is free, and made before the update: the weights stay those of
        # the last finite step; on a GPU it is a sync, so it is made every 50 steps after it
        if self.device.type == "cpu" and not torch.isfinite(loss).item():
            self.diverge(f"the training loss became {loss.item()}", loss.item(), self.step + 1)
            return
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if s.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), s.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scheduler is not None and s.scheduler_interval == "step":
            self.scheduler.step()
        n = y.shape[0]
        with torch.no_grad():
            self._sums[0] += loss.detach().double() * n
            if self.track_accuracy and out.ndim == 2 and y.ndim == 1:
                self._sums[1] += (out.argmax(1) == y).sum()
            self._sums[2] += n
        self.step += 1
        self.samples_seen += n
        if self.device.type != "cpu" and self.step % 50 == 0 and not (
                torch.isfinite(loss).item() and torch.isfinite(self._sums[0]).item()):
            self.diverge(f"the training loss became {loss.item()}", loss.item())
            return
        loss = loss.detach()
        for cb in self.callbacks:
            cb.on_step_end(self, loss)
            if self.stopped_early:
                break

    def diverge(self, what: str, loss: float, step: int | None = None) -> None:
        """Training has diverged at ``step`` (default: the current one; ``what`` says how): a
        callback may turn it into a recorded stop (``on_nonfinite`` returns True), else
        :class:`NonFiniteLoss` is raised."""
        step = self.step if step is None else step
        if any([cb.on_nonfinite(self, loss) for cb in self.callbacks]):
            self.diverged = True
            self.request_stop(f"diverged at step {step}: {what}")
            return
        raise NonFiniteLoss(f"training diverged at step {step}: {what}; lower the "
                            f"learning rate{self._kept_checkpoint()}")

    def _kept_checkpoint(self) -> str:
        if self.checkpoint_dir and ckpt.find_checkpoint(self.checkpoint_dir):
            at = f" (step {self._last_good_step})" if self._last_good_step is not None else ""
            return f"; the last good checkpoint is kept in {self.checkpoint_dir}{at}"
        return ""

    # ----------------------------------------------------------------- evaluation
    def evaluate(self, loader: Iterable) -> dict[str, float]:
        """Mean loss and accuracy over ``loader``, in the training precision."""
        with self.autocast():
            return compute_loss_and_accuracy(loader, self.module, self.loss_fn, self.device)

    def _eval_row(self) -> dict[str, Any]:
        started = time.perf_counter()
        sums = all_reduce_sum(self._sums.clone())
        self._sums.zero_()
        n = max(sums[2].item(), 1.0)
        row: dict[str, Any] = {"step": self.step, "epoch": round(self._epoch_float(), 4),
                               "lr": self.optimizer.param_groups[0]["lr"],
                               "train_loss": sums[0].item() / n}
        if self.track_accuracy:
            row["train_accuracy"] = sums[1].item() / n
        splits = ({"val": self.val_loader} if self.val_loader is not None else {})
        for split, loader in {**splits, **self.extra_eval}.items():
            m = self.evaluate(loader)
            row[f"{split}_loss"] = m["loss"]
            if self.track_accuracy:
                row[f"{split}_accuracy"] = m["accuracy"]
        self.eval_s += time.perf_counter() - started
        row["time_s"] = round(self.elapsed_s + time.perf_counter() - self._t0, 3)
        self.history.append(row)
        for cb in self.callbacks:
            cb.on_eval_end(self, row)
        return row

    def _epoch_float(self) -> float:
        spe = self.steps_per_epoch
        return self.step / spe if spe else 0.0

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        loader_state = (self.train_loader.state_dict()
                        if hasattr(self.train_loader, "state_dict") else None)
        # every rank has its own RNG and augmentation generator: rank 0 saves all of them
        per_rank = all_gather_object({"rng": ckpt.rng_state(), "loader": loader_state,
                                      "sums": self._sums.cpu(), "samples": self.samples_seen})
        return {
            "step": self.step, "epoch": self.epoch, "history": self.history,
            "stop_reason": self.stop_reason, "diverged": self.diverged,
            "callbacks": [cb.state_dict() for cb in self.callbacks],
            "elapsed_s": self.elapsed_s + time.perf_counter() - self._t0,
            "eval_s": self.eval_s,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(), "per_rank": per_rank,
            "world_size": self.dist.world_size,
            "precision": self.precision, "precision_probe": self.precision_probe,
        }

    def save(self) -> None:
        """Checkpoint (rank 0 writes; every rank takes part because states are gathered).

        Only a finite state is written: weights, buffers (e.g. BatchNorm's running variance)
        and optimiser state with a nan or inf are divergence, and the last good checkpoint
        stays on disk.
        """
        if self.checkpoint_dir is None:
            return
        bad = ckpt.first_nonfinite({"model": self.module.state_dict(),
                                    "optimizer": self.optimizer.state_dict()})
        if bad is not None:
            self.diverge(f"{bad} is not finite", math.nan)
            return
        state = self.state_dict()
        if self.dist.is_main:
            ckpt.save_checkpoint(self.checkpoint_dir, self.module, state)
        self._last_good_step = self.step
        barrier()

    def restore(self) -> bool:
        """Load the checkpoint in ``checkpoint_dir`` if there is one; True when resumed."""
        found = ckpt.find_checkpoint(self.checkpoint_dir) if self.checkpoint_dir else None
        if found is None:
            return False
        state = ckpt.load_checkpoint(found, self.module)
        if state.get("world_size", 1) != self.dist.world_size:
            raise NeuralabError(f"checkpoint {found} was written with world size "
                                f"{state['world_size']}; resume with --nproc {state['world_size']}")
        saved_callbacks = state.get("callbacks", [])
        if len(saved_callbacks) != len(self.callbacks):
            raise NeuralabError(f"checkpoint {found} was written with {len(saved_callbacks)} "
                                f"callbacks, this trainer has {len(self.callbacks)}; resume "
                                "with the same settings")
        self.step, self.epoch, self.history = state["step"], state["epoch"], state["history"]
        self.stop_reason, self.diverged = state["stop_reason"], state["diverged"]
        self.elapsed_s, self.eval_s = state["elapsed_s"], state["eval_s"]
        for cb, cb_state in zip(self.callbacks, saved_callbacks, strict=True):
            cb.load_state_dict(cb_state)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        mine = state["per_rank"][self.dist.rank]
        if mine["loader"] is not None:
            self.train_loader.load_state_dict(mine["loader"])
        self._sums = mine["sums"].to(self.device)
        self.samples_seen = mine.get("samples", 0)
        ckpt.set_rng_state(mine["rng"])
        self._last_good_step = self.step
        if state.get("precision") in ("fp32", "bf16") and self.precision == "auto":
            self.precision = state["precision"]  # decided by the first session's probe
            self.amp_dtype = torch.bfloat16 if self.precision == "bf16" else None
            self.precision_probe = state.get("precision_probe")
        self.log(f"resumed from {found} at step {self.step} (epoch {self.epoch})")
        return True

    def _end_epoch(self) -> None:
        self.epoch += 1
        if self.scheduler is not None and self.settings.scheduler_interval == "epoch":
            self.scheduler.step()
        if not self.settings.eval_every:
            self._eval_row()
        if hasattr(self.train_loader, "set_epoch"):
            self.train_loader.set_epoch(self.epoch)
        self.save()

    # ----------------------------------------------------------------- the loop
    def fit(self, resume: bool = False) -> list[dict[str, Any]]:
        """Train until the budget is spent or a callback stops it; returns the history rows."""
        self._t0 = time.perf_counter()
        if resume:
            self.restore()
        s = self.settings
        self._bar = bar = progress(total=self.total_steps, desc="train", unit="step",
                                   enabled=s.show_progress and self.dist.is_main,
                                   initial=self.step)
        try:
            self._loop(bar)
        finally:
            bar.close()
            self._bar = None
        if self._sums[2].item() > 0 and (not self.history or self.history[-1]["step"] != self.step):
            self._eval_row()
        self.elapsed_s += time.perf_counter() - self._t0
        self._t0 = time.perf_counter()
        for cb in self.callbacks:
            cb.on_fit_end(self)
        self.save()
        return self.history

    def _start_epoch_bar(self, bar, in_epoch: int) -> None:
        """Epoch-based training shows one bar per epoch (``epoch 3/10``); when it ends, the
        epoch's evaluation line stays in its place. Step-based training keeps one bar."""
        spe, s = self.steps_per_epoch, self.settings
        if not spe or not s.max_epochs or self.total_steps < spe:
            return
        epochs = -(-self.total_steps // spe)
        left = min(spe, self.total_steps - self.epoch * spe)
        bar.reset(total=left)
        bar.set_description(f"epoch {self.epoch + 1}/{epochs}", refresh=False)
        if in_epoch:
            bar.update(in_epoch)

    def _loop(self, bar) -> None:
        s = self.settings
        while not self._done():
            loader = self.train_loader
            if hasattr(loader, "set_epoch") and getattr(loader, "epoch", None) != self.epoch:
                loader.set_epoch(self.epoch)
            in_epoch = getattr(loader, "position", 0)  # > 0 when resuming mid-epoch
            self._start_epoch_bar(bar, in_epoch)
            for x, y in loader:
                self.train_step(x, y)
                in_epoch += 1
                bar.update(1)
                if self.diverged:
                    return
                if s.eval_every and self.step % s.eval_every == 0:
                    row = self._eval_row()
                    bar.set_postfix(_postfix(row), refresh=False)
                if s.checkpoint_every and self.step % s.checkpoint_every == 0:
                    self.save()
                if self._done() and in_epoch != self.steps_per_epoch:
                    return  # budget spent mid-epoch (an epoch's last batch falls through)
            else:  # the loader is exhausted: an epoch ended
                self._end_epoch()
                continue
            return


def cpu_has_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX-512 BF16 or AMX) that oneDNN uses."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def _postfix(row: dict[str, Any]) -> dict[str, str]:
    """The bar's postfix: train then val (then other splits), 4 significant digits."""
    keys = sorted((k for k in row if k.endswith(("_loss", "_accuracy"))),
                  key=lambda k: (not k.startswith("train"), not k.startswith("val"), k))
    return {k.replace("accuracy", "acc"): f"{row[k]:.4g}" for k in keys}


def _print_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
