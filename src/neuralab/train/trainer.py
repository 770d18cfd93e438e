"""The Trainer: one loop for every PyTorch experiment, from a laptop CPU to torchrun + DDP.

    trainer = Trainer(model, optimizer, train_loader, val_loader=val_loader,
                      settings=TrainSettings(max_epochs=10, eval_every=500, patience=4),
                      checkpoint_dir=ctx.checkpoint_dir)
    history = trainer.fit(resume=ctx.resume)

It trains for an epoch or a step budget, evaluates on the validation split every ``eval_every``
steps (else once per epoch), stops early when the validation loss has not improved for
``patience`` evaluations, checkpoints every epoch (and every ``checkpoint_every`` steps) with
everything exact resume needs, and stops with a clear error on a non-finite loss (the last good
checkpoint stays). History is returned as data; plotting is :mod:`neuralab.viz`'s job.

Under torchrun the model is wrapped in DistributedDataParallel, each rank trains on its shard
of the loader, metrics are all-reduced and only rank 0 writes checkpoints.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from neuralab.errors import NeuralabError
from neuralab.progress import progress
from neuralab.train import checkpoint as ckpt
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
    show_progress: bool = True


class NonFiniteLoss(NeuralabError):
    pass


class Trainer:
    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 train_loader: Iterable, *, val_loader: Iterable | None = None,
                 loss_fn: Callable = F.cross_entropy, scheduler: Any = None,
                 settings: TrainSettings | None = None, device: str | torch.device = "cpu",
                 checkpoint_dir: str | Path | None = None, dist: DistInfo | None = None,
                 log: Callable[[str], None] | None = None, track_accuracy: bool = True,
                 extra_eval: dict[str, Iterable] | None = None):
        self.settings = settings or TrainSettings()
        s = self.settings
        if s.max_epochs is None and s.max_steps is None:
            raise ValueError("give max_epochs or max_steps")
        self.device = torch.device(device)
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
        self.log = log or (lambda msg: None)
        self.track_accuracy = track_accuracy
        use_amp = s.amp and self.device.type == "cuda"
        self.amp_dtype = (torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported()
                          else torch.float16 if use_amp else None)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        # counters: all saved in checkpoints
        self.step, self.epoch = 0, 0
        self.history: list[dict[str, Any]] = []
        self.best_val_loss, self.evals_since_best = math.inf, 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.elapsed_s = 0.0  # wall time inside fit(), evaluations included
        self.eval_s = 0.0  # of which spent in evaluations
        self.stopped_early = False
        self._sums = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss*n, hits, n

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
    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        s = self.settings
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        self.model.train()
        with torch.autocast(self.device.type, dtype=self.amp_dtype,
                            enabled=self.amp_dtype is not None):
            out = self.model(x)
            loss = self.loss_fn(out, y)
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
        if self.device.type == "cpu" or self.step % 50 == 0:
            self._check_finite(loss)

    def _check_finite(self, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss).item() or not torch.isfinite(self._sums[0]).item():
            where = (f"; the last good checkpoint is kept in {self.checkpoint_dir}"
                     if self.checkpoint_dir and ckpt.find_checkpoint(self.checkpoint_dir) else "")
            raise NonFiniteLoss(f"training loss became {loss.item()} at step {self.step} "
                                f"(lower the learning rate or enable grad_clip){where}")

    # ----------------------------------------------------------------- evaluation
    def evaluate(self, loader: Iterable) -> dict[str, float]:
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
        if self.val_loader is not None:
            val = self.evaluate(self.val_loader)
            row["val_loss"] = val["loss"]
            if self.track_accuracy:
                row["val_accuracy"] = val["accuracy"]
            self._early_stopping(val["loss"])
        for split, loader in self.extra_eval.items():
            m = self.evaluate(loader)
            row[f"{split}_loss"] = m["loss"]
            if self.track_accuracy:
                row[f"{split}_accuracy"] = m["accuracy"]
        self.eval_s += time.perf_counter() - started
        row["time_s"] = round(self.elapsed_s + time.perf_counter() - self._t0, 3)
        self.history.append(row)
        return row

    def _epoch_float(self) -> float:
        spe = self.steps_per_epoch
        return self.step / spe if spe else 0.0

    def _early_stopping(self, val_loss: float) -> None:
        s = self.settings
        if val_loss < self.best_val_loss:
            self.best_val_loss, self.evals_since_best = val_loss, 0
            if s.restore_best:
                self.best_state = copy.deepcopy(self.module.state_dict())
        else:
            self.evals_since_best += 1
            if s.patience is not None and self.evals_since_best >= s.patience:
                self.stopped_early = True
                self.log(f"early stopping at step {self.step}: validation loss has not improved "
                         f"for {s.patience} evaluations (best {self.best_val_loss:.4f})")

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        loader_state = (self.train_loader.state_dict()
                        if hasattr(self.train_loader, "state_dict") else None)
        # every rank has its own RNG and augmentation generator: rank 0 saves all of them
        per_rank = all_gather_object({"rng": ckpt.rng_state(), "loader": loader_state,
                                      "sums": self._sums.cpu()})
        return {
            "step": self.step, "epoch": self.epoch, "history": self.history,
            "best_val_loss": self.best_val_loss, "evals_since_best": self.evals_since_best,
            "best_state": self.best_state, "stopped_early": self.stopped_early,
            "elapsed_s": self.elapsed_s + time.perf_counter() - self._t0,
            "eval_s": self.eval_s,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(), "per_rank": per_rank,
            "world_size": self.dist.world_size,
        }

    def save(self) -> None:
        """Checkpoint (rank 0 writes; every rank takes part because states are gathered)."""
        if self.checkpoint_dir is None:
            return
        state = self.state_dict()
        if self.dist.is_main:
            ckpt.save_checkpoint(self.checkpoint_dir, self.module, state)
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
        self.step, self.epoch, self.history = state["step"], state["epoch"], state["history"]
        self.best_val_loss = state["best_val_loss"]
        self.evals_since_best, self.best_state = state["evals_since_best"], state["best_state"]
        self.stopped_early, self.elapsed_s = state["stopped_early"], state["elapsed_s"]
        self.eval_s = state.get("eval_s", 0.0)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        mine = state["per_rank"][self.dist.rank]
        if mine["loader"] is not None:
            self.train_loader.load_state_dict(mine["loader"])
        self._sums = mine["sums"].to(self.device)
        ckpt.set_rng_state(mine["rng"])
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
        """Train until the budget is spent or early stopping; returns the history rows."""
        self._t0 = time.perf_counter()
        if resume:
            self.restore()
        s = self.settings
        bar = progress(total=self.total_steps, desc="train", unit="step",
                       enabled=s.show_progress and self.dist.is_main)
        bar.update(self.step)
        while not self._done():
            loader = self.train_loader
            if hasattr(loader, "set_epoch") and getattr(loader, "epoch", None) != self.epoch:
                loader.set_epoch(self.epoch)
            in_epoch = getattr(loader, "position", 0)  # > 0 when resuming mid-epoch
            for x, y in loader:
                self.train_step(x, y)
                in_epoch += 1
                bar.update(1)
                if s.eval_every and self.step % s.eval_every == 0:
                    row = self._eval_row()
                    bar.set_postfix(**{k: v for k, v in row.items()
                                       if k.endswith(("loss", "accuracy"))})
                if s.checkpoint_every and self.step % s.checkpoint_every == 0:
                    self.save()
                if self._done() and in_epoch != self.steps_per_epoch:
                    break  # budget spent mid-epoch (an epoch's last batch falls through)
            else:  # the loader is exhausted: an epoch ended
                self._end_epoch()
                continue
            break
        if self._sums[2].item() > 0 and (not self.history or self.history[-1]["step"] != self.step):
            self._eval_row()
        self.elapsed_s += time.perf_counter() - self._t0
        self._t0 = time.perf_counter()
        bar.close()
        if s.restore_best and self.best_state is not None:
            self.module.load_state_dict(self.best_state)
        self.save()
        return self.history
