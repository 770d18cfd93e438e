"""Callbacks: what differs between experiments' training, without copying the loop.

The :class:`~neuralab.train.trainer.Trainer` calls four events on each of its callbacks, in the
order they were given:

``on_step_end(trainer, loss)``
    after every optimiser step (``loss``: the step's detached scalar tensor).
``on_eval_end(trainer, row)``
    after every evaluation; ``row`` is the history row just recorded (``step``, ``epoch``,
    ``lr``, ``train_loss``, ``val_loss``, ... ). A callback may end training with
    ``trainer.request_stop(reason)``; the loop stops after this evaluation.
``on_nonfinite(trainer, loss) -> bool``
    the loss became nan/inf (``loss``: its float value), checked *before* the backward pass, so
    the weights are still those of the last finite step. Return True to stop and record
    (``trainer.diverged`` becomes True, ``trainer.stop_reason`` says why); when no callback
    returns True the trainer raises :class:`~neuralab.train.trainer.NonFiniteLoss`.
``on_fit_end(trainer)``
    once, after the last step and evaluation, before the final checkpoint.

A callback with state that exact resume needs returns it from ``state_dict()`` (plain Python
values or tensors) and takes it back in ``load_state_dict(state)``; the trainer saves it in its
checkpoint. This is fastai's structure (named events, a stop request) with a small surface::

    class StopAtLoss(Callback):
        def on_eval_end(self, trainer, row):
            if row["train_loss"] < 0.1:
                trainer.request_stop("train loss below 0.1")
"""

from __future__ import annotations

import copy
import math
import time
from typing import TYPE_CHECKING, Any

import torch

from neuralab.progress import duration

if TYPE_CHECKING:
    from neuralab.train.trainer import Trainer


class Callback:
    """Base class: every event does nothing; override the ones you need."""

    def on_step_end(self, trainer: Trainer, loss: torch.Tensor) -> None:
        pass

    def on_eval_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        pass

    def on_nonfinite(self, trainer: Trainer, loss: float) -> bool:
        return False

    def on_fit_end(self, trainer: Trainer) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` evaluations (``patience=None``:
    never stop, only track the best); ``restore_best`` loads the best weights at the end.

    ``mode="min"`` for losses, ``"max"`` for accuracies. The default callback of the Trainer
    when ``TrainSettings.patience`` or ``restore_best`` is set (monitoring ``val_loss``).
    """

    def __init__(self, monitor: str = "val_loss", patience: int | None = None,
                 mode: str = "min", restore_best: bool = False):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.mode, self.restore_best = (monitor, patience, mode,
                                                                     restore_best)
        self.best = math.inf if mode == "min" else -math.inf
        self.best_step: int | None = None
        self.evals_since_best = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def _better(self, value: float) -> bool:
        return value < self.best if self.mode == "min" else value > self.best

    def on_eval_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        value = row.get(self.monitor)
        if value is None:
            return
        if self._better(value):
            self.best, self.best_step, self.evals_since_best = value, row["step"], 0
            if self.restore_best:
                self.best_state = copy.deepcopy(trainer.module.state_dict())
            return
        self.evals_since_best += 1
        if self.patience is not None and self.evals_since_best >= self.patience:
            trainer.request_stop(f"{self.monitor} has not improved for {self.patience} "
                                 f"evaluations (best {self.best:.4f} at step {self.best_step})")

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.restore_best and self.best_state is not None:
            trainer.module.load_state_dict(self.best_state)
            trainer.restored_step = self.best_step

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step,
                "evals_since_best": self.evals_since_best, "best_state": self.best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step = state["best"], state["best_step"]
        self.evals_since_best, self.best_state = state["evals_since_best"], state["best_state"]


class AccuracyPlateau(Callback):
    """Stop once ``monitor`` has stayed at or above ``threshold`` for ``evals`` evaluations in a
    row; ``reached_step`` is the first step of that streak (None until a streak starts)."""

    def __init__(self, threshold: float, evals: int = 3, monitor: str = "val_accuracy"):
        self.threshold, self.evals, self.monitor = threshold, evals, monitor
        self.streak, self.reached_step = 0, None

    def on_eval_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        value = row.get(self.monitor)
        if value is None:
            return
        if value >= self.threshold:
            self.streak += 1
            self.reached_step = self.reached_step or row["step"]
        else:
            self.streak, self.reached_step = 0, None
        if self.streak >= self.evals:
            trainer.request_stop(f"{self.monitor} >= {self.threshold} for {self.evals} "
                                 f"evaluations in a row")

    @property
    def reached(self) -> bool:
        return self.streak >= self.evals

    def state_dict(self) -> dict[str, Any]:
        return {"streak": self.streak, "reached_step": self.reached_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.streak, self.reached_step = state["streak"], state["reached_step"]


class TimeToAccuracy(Callback):
    """Record when ``monitor`` first reached each of ``levels``: ``{level: {"step", "epoch",
    "time_s"}}`` in :attr:`reached` (time counts training and evaluations, as the history's
    ``time_s``). :meth:`metrics` flattens it for metrics.json."""

    def __init__(self, levels: tuple[float, ...], monitor: str = "val_accuracy"):
        self.levels, self.monitor = tuple(levels), monitor
        self.reached: dict[float, dict[str, float]] = {}

    def on_eval_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        value = row.get(self.monitor)
        if value is None:
            return
        for level in self.levels:
            if level not in self.reached and value >= level:
                self.reached[level] = {"step": row["step"], "epoch": row["epoch"],
                                       "time_s": row["time_s"]}

    def metrics(self, prefix: str = "time_to") -> dict[str, float | None]:
        """``{time_to_0.9_s: 12.3, time_to_0.9_step: 400, ...}`` (None where not reached)."""
        out: dict[str, float | None] = {}
        for level in self.levels:
            hit = self.reached.get(level)
            out[f"{prefix}_{level:g}_s"] = hit["time_s"] if hit else None
            out[f"{prefix}_{level:g}_step"] = hit["step"] if hit else None
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"reached": {str(k): v for k, v in self.reached.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.reached = {float(k): v for k, v in state["reached"].items()}


class StopOnNonFinite(Callback):
    """On a nan/inf loss, stop and record (``trainer.diverged``) instead of raising: for
    experiments where divergence is a result (e.g. a sweep cell), not an error."""

    def on_nonfinite(self, trainer: Trainer, loss: float) -> bool:
        return True


class DivergenceGuard(Callback):
    r"""Catch divergence while the loss is still finite.

    Training has diverged when a step's loss exceeds ``factor`` times the loss of the first
    step (at least ``floor``), or when any parameter's magnitude exceeds ``max_weight``
    (checked at evaluations). For cross-entropy the first loss is about :math:`\ln K` (2.3 for
    ten classes): a loss 100x that means logit gaps of hundreds, which no learning run
    produces. A diverged run is handled as a non-finite one (``on_nonfinite`` of the callbacks,
    else :class:`~neuralab.train.trainer.NonFiniteLoss`). The loss is looked at every
    ``every`` steps (each look is a device sync on GPUs).
    """

    def __init__(self, factor: float = 100.0, floor: float = 1e-2, max_weight: float = 1e8,
                 every: int = 1):
        self.factor, self.floor, self.max_weight, self.every = factor, floor, max_weight, every
        self.start: float | None = None  # the first step's loss

    def on_step_end(self, trainer: Trainer, loss: torch.Tensor) -> None:
        if self.start is None:
            self.start = float(loss)
            return
        if trainer.step % self.every:
            return
        value, limit = float(loss), self.factor * max(self.start, self.floor)
        if value > limit:
            trainer.diverge(f"the training loss {value:.4g} is more than {self.factor:g}x "
                            f"its start ({self.start:.4g})", value)

    def on_eval_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        with torch.no_grad():
            biggest = max((p.detach().abs().max().item() for p in trainer.module.parameters()
                           if p.numel()), default=0.0)
        if not math.isfinite(biggest) or biggest > self.max_weight:
            trainer.diverge(f"a weight reached {biggest:.3g}", row.get("train_loss", math.nan))

    def state_dict(self) -> dict[str, Any]:
        return {"start": self.start}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.start = state["start"]


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if 1e-3 <= abs(value) < 1e4 else f"{value:.3g}"
    return str(value)


class PrintEvaluations(Callback):
    """One line per evaluation that stays on screen and in a piped log::

        epoch 3/10 step 1170/3900 | train loss 1.0213 acc 0.6412 | val loss 0.9811 acc 0.6604 |
        lr 0.0100 | 2,310 img/s | 51s elapsed, ETA 2m00s

    Splits in the order train, val, then the others (test, ...); ``write`` is the trainer's
    ``log`` (which goes around the progress bar).
    """

    def __init__(self, write=None):
        self.write = write
        self._last_time, self._last_samples = None, 0.0

    def on_step_end(self, trainer: Trainer, loss: torch.Tensor) -> None:
        if self._last_time is None:  # throughput counts from the first step of this session
            self._last_time = time.perf_counter()
            self._last_samples = trainer.samples_seen * trainer.dist.world_size

    def on_eval_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        write = self.write or trainer.log
        total = trainer.total_steps
        parts = []
        spe = trainer.steps_per_epoch
        if spe and trainer.settings.max_epochs:
            epochs = -(-total // spe)
            parts.append(f"epoch {min(math.ceil(row['step'] / spe), epochs)}/{epochs} "
                         f"step {row['step']}/{total}")
        else:
            parts.append(f"step {row['step']}/{total}")
        splits = ["train", "val"] + sorted({k.rsplit("_", 1)[0] for k in row
                                            if k.endswith("_loss")} - {"train", "val"})
        for split in splits:
            cells = [f"{name} {_number(row[f'{split}_{key}'])}"
                     for key, name in (("loss", "loss"), ("accuracy", "acc"))
                     if f"{split}_{key}" in row]
            if cells:
                parts.append(f"{split} " + " ".join(cells))
        parts.append(f"lr {_number(row['lr'])}")
        # every rank trains on its own shard: the throughput of the job is world_size times this
        now, samples = time.perf_counter(), trainer.samples_seen * trainer.dist.world_size
        if self._last_time is not None and now > self._last_time:
            rate = (samples - self._last_samples) / (now - self._last_time)
            parts.append(f"{rate:,.0f} samples/s")
        self._last_time, self._last_samples = now, samples
        elapsed = row["time_s"]
        done = row["step"] / total if total else 1.0
        eta = elapsed * (1 - done) / done if done > 0 else math.nan
        parts.append(f"{duration(elapsed)} elapsed" + (f", ETA {duration(eta)}"
                                                        if done < 1 and math.isfinite(eta)
                                                        else ""))
        write(" | ".join(parts))


class TensorBoardLogger(Callback):
    """Every history row as TensorBoard scalars (``train/loss``, ``val/accuracy``, ``lr``, ...)
    under ``log_dir``, beside the run's history.csv: ``tensorboard --logdir RUN_DIR``.
    Needs the ``tensorboard`` package (``pip install 'neuralab[tensorboard]'``)."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self._writer = None

    @staticmethod
    def check_installed() -> None:
        """A one-line error when the ``tensorboard`` package is missing."""
        import importlib.util

        from neuralab.errors import NeuralabError

        if importlib.util.find_spec("tensorboard") is None:
            raise NeuralabError("logger=tensorboard needs the tensorboard package: "
                                "pip install 'neuralab[tensorboard]'")

    def on_eval_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        if not trainer.dist.is_main:
            return
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.log_dir))
        for key, value in row.items():
            if key in ("step", "epoch") or not isinstance(value, int | float):
                continue
            split, _, metric = key.partition("_")
            tag = f"{split}/{metric}" if metric and split in ("train", "val", "test") else key
            self._writer.add_scalar(tag, value, global_step=row["step"])
        self._writer.flush()

    def on_fit_end(self, trainer: Trainer) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
