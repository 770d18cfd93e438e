"""The one training loop of the NumPy engine (CS231n's ``Solver``), and its small pieces.

:func:`fit` trains any model with the engine's protocol (``forward``/``backward``,
``params``/``grads``), a loss (``forward(scores, targets) -> float``, ``backward()``) and an
optimiser (``step()`` and an ``lr`` attribute). It owns, once for every NumPy experiment:

- the batches: an endless stream of epochs, each a fresh permutation drawn from ``rng`` when
  its first batch is needed (:func:`batch_stream`);
- the learning rate: a constant, or ``lr(step, epoch)`` (e.g. :func:`lr_at`);
- the evaluation cadence: a history row every ``eval_every`` steps and/or at the end of each
  epoch (and at step 0 with ``eval_at_start``), always after the last step;
- the history rows: ``step, epoch, lr, train_loss, train_accuracy, <set>_loss,
  <set>_accuracy, ...`` where the train values are means over the samples seen since the
  previous row (UvA's ``train_mlp_numpy.py``; with one row per epoch: the epoch's mean, as hw5
  accumulates them);
- divergence: one message (:class:`TrainingDiverged`), see :func:`check_divergence`;
- progress: one line per row through ``log`` (no printing of its own);
- checkpoints: an atomic ``.npz`` after every row, and an exact ``resume`` from it.

What differs between the handouts is an argument or a hook: ``lr_for_summed_loss`` (hw5's
learning rate is per the loss *summed* over the batch), ``batch_transform`` (augmentation),
``on_step`` (the HLCV torch twin steps in lockstep), ``on_eval`` (extra columns),
``eval_when`` (evaluate only some rows), ``on_diverge="stop"`` (a learning-rate sweep keeps
going).

No torch and nothing outside ``neuralab.scratch`` and ``neuralab.errors`` is imported here.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuralab.errors import NeuralabError
from neuralab.scratch.base import make_rng

EXPLODE = 1e3
"""A batch loss above ``EXPLODE`` times the first batch's loss counts as diverged."""


class TrainingDiverged(NeuralabError):
    """The loss became NaN/inf or exploded; the message says where and what to lower."""


# --------------------------------------------------------------------------- one step


def train_step(model, loss_fn, optimizer, x: np.ndarray, y: np.ndarray) -> float:
    """forward -> loss -> backward -> optimiser update; returns the loss (before the update).

    The model's input gradient is not computed (nothing consumes it).
    """
    return _step(model, loss_fn, optimizer, x, y)[0]


def _step(model, loss_fn, optimizer, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    scores = model.forward(x)
    loss = loss_fn.forward(scores, y)
    model.backward(loss_fn.backward(), need_input_grad=False)
    optimizer.step()
    return loss, scores


# --------------------------------------------------------------------------- batches


class BatchStream:
    """Endless ``(epoch, indices)``: a fresh permutation of ``range(n)`` per epoch (drawn from
    ``rng`` when the epoch's first batch is taken), cut into consecutive batches of
    ``batch_size`` (the last one smaller unless ``drop_last``); ``epoch`` counts from 0.

    :meth:`state` / :meth:`restore` save and restore the position (the current permutation
    and how far it was read) for an exact resume; ``rng``'s own state is saved separately.
    """

    def __init__(self, n: int, batch_size: int, rng: np.random.Generator,
                 drop_last: bool = False) -> None:
        if n < 1 or batch_size < 1:
            raise NeuralabError(f"need n >= 1 and batch_size >= 1, got n={n}, "
                                f"batch={batch_size}")
        self.n, self.batch_size, self.rng = n, batch_size, rng
        self.stop = n - n % batch_size if drop_last and n >= batch_size else n
        self.epoch, self.pos, self.order = -1, 0, None

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> tuple[int, np.ndarray]:
        if self.order is None or self.pos >= self.stop:
            self.order = self.rng.permutation(self.n)
            self.epoch, self.pos = self.epoch + 1, 0
        idx = self.order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return self.epoch, idx

    def state(self) -> tuple[int, int, np.ndarray | None]:
        return self.epoch, self.pos, None if self.order is None else self.order.copy()

    def restore(self, epoch: int, pos: int, order: np.ndarray | None) -> None:
        self.epoch, self.pos, self.order = int(epoch), int(pos), order


def batch_stream(n: int, batch_size: int, rng: np.random.Generator,
                 drop_last: bool = False) -> BatchStream:
    """:class:`BatchStream` (``next(stream) -> (epoch, indices)``)."""
    return BatchStream(n, batch_size, rng, drop_last)


def steps_per_epoch(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Batches in one pass over ``n`` samples: ``ceil(n / B)``, or ``floor`` with ``drop_last``."""
    return n // batch_size if drop_last and n >= batch_size else math.ceil(n / batch_size)


def iterate_minibatches(
    x: np.ndarray,
    y: np.ndarray | None = None,
    batch_size: int = 200,
    shuffle: bool = True,
    rng: np.random.Generator | int | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Yield ``(x_batch, y_batch)`` pairs covering the data once (one epoch).

    ``shuffle`` draws a fresh permutation from ``rng``; ``drop_last`` skips a final
    incomplete batch. ``y`` may be ``None`` (unsupervised data, e.g. the autoencoder).
    """
    n = len(x)
    if y is not None and len(y) != n:
        raise NeuralabError(f"x has {n} samples but y has {len(y)}")
    if batch_size < 1:
        raise NeuralabError(f"batch_size must be >= 1, got {batch_size}")
    order = make_rng(rng).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], (None if y is None else y[idx])


# --------------------------------------------------------------------------- schedules


def lr_at(kind: str, base: float, step: int, total: int, warmup: int = 0,
          milestones: tuple[float, ...] = (0.5, 0.75), gamma: float = 0.1) -> float:
    """Learning rate for (0-based) ``step`` of ``total``.

    ``none``: constant. ``cosine``: linear warm-up over ``warmup`` steps
    (``base (step + 1) / warmup``), then half a cosine from ``base`` to 0:
    ``base (1 + cos(pi t)) / 2`` with ``t = (step - warmup) / (total - warmup)``.
    ``step``: ``base gamma^k`` where ``k`` counts the fractions in ``milestones`` passed.
    """
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    if kind == "none":
        return base
    if kind == "cosine":
        t = (step - warmup) / max(total - warmup, 1)
        return base * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    if kind == "step":
        return base * gamma ** sum(step >= m * total for m in milestones)
    raise NeuralabError(f"unknown lr schedule {kind!r}; use none, cosine or step")


def every_epochs(base: float, factor: float, every: int) -> Callable[[int, int], float]:
    """``lr(step, epoch)``: ``base`` multiplied by ``factor`` after every ``every`` epochs
    (hw5 ``run_q5.py``); ``every=0`` keeps it constant. The product is formed by repeated
    multiplication, as ``lr *= factor`` in the handout."""

    def lr(step: int, epoch: int) -> float:
        value = base
        for _ in range(epoch // every if every else 0):
            value *= factor
        return value

    return lr


# --------------------------------------------------------------------------- evaluation


def _is_labels(y) -> bool:
    return y is not None and y.ndim == 1 and np.issubdtype(y.dtype, np.integer)


def _per_sample(loss_fn, loss: float, n: int) -> float:
    """A batch's loss times its size, unless the loss is already a sum over the batch."""
    return loss if getattr(loss_fn, "reduction", "mean") == "sum" else loss * n


def evaluate(model, loss_fn, x: np.ndarray, y: np.ndarray | None = None, chunk: int = 2048,
             ) -> dict[str, Any]:
    """Loss per sample (and, for integer labels ``y [S]``, accuracy and predicted labels
    ``pred [S]``) of ``model`` on ``x``, computed in chunks of ``chunk`` rows.

    ``y=None`` means the targets are the inputs (an autoencoder). A mean loss is weighted by
    chunk size; a loss with ``reduction="sum"`` is added up; both are divided by ``S``.
    """
    labels = _is_labels(y)
    total, preds = 0.0, []
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk]
        scores = model.forward(xb)
        total += _per_sample(loss_fn, loss_fn.forward(scores, xb if y is None else
                                                     y[i:i + chunk]), len(xb))
        if labels:
            preds.append(scores.argmax(axis=1))
    out: dict[str, Any] = {"loss": total / max(len(x), 1)}
    if labels:
        pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
        out["accuracy"] = float(np.mean(pred == y)) if len(y) else float("nan")
        out["pred"] = pred
    return out


def predict_scores(model, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """``model.forward`` over ``x`` in chunks of ``batch_size`` (all at once if ``None``)."""
    if batch_size is None or len(x) <= batch_size:
        return model.forward(x)
    return np.concatenate([model.forward(x[i:i + batch_size])
                           for i in range(0, len(x), batch_size)])


def predict(model, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """Predicted class labels ``[S]``: the arg-max of the scores."""
    return predict_scores(model, x, batch_size).argmax(axis=1)


def accuracy(scores: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of rows whose arg-max score is the target class (``targets``: labels ``[S]``
    or one-hot ``[S, K]``), as UvA's ``accuracy(predictions, targets)``."""
    t = np.asarray(targets)
    labels = t.argmax(axis=1) if t.ndim == 2 else t
    return float(np.mean(np.asarray(scores).argmax(axis=1) == labels))


# --------------------------------------------------------------------------- divergence


def check_divergence(loss: float, first: float | None, explode: float = EXPLODE) -> str | None:
    """Why ``loss`` counts as diverged, or ``None``.

    Diverged: ``loss`` is NaN or infinite, or ``loss > explode * first`` with ``first`` the
    first batch's loss (when it is > 0). The rule is relative, so it holds for a mean
    cross-entropy (``log K`` at the start) and for a loss summed over batch and pixels
    (thousands) alike. Gradient descent that works lowers the loss; a thousandfold rise means
    the steps are past the stable size (``lr > 2 / L`` on a curvature ``L``) and the iterates
    grow geometrically towards overflow, so stopping there loses nothing.
    """
    if not math.isfinite(loss):
        return f"loss {loss}"
    if first is not None and first > 0 and loss > explode * first:
        return f"loss {loss:.3g}, over {explode:g}x the first batch's {first:.3g}"
    return None


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any],
                    ) -> Path:
    """Write ``arrays`` and the JSON-able ``meta`` to ``path`` (``.npz``) atomically: into a
    temporary file beside it, then renamed over it, so a crash leaves the previous one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, __meta__=np.array(json.dumps(meta, default=_plain)))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays as Python numbers and lists (for the JSON part)."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def load_checkpoint(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` as :func:`save_checkpoint` wrote them."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k != "__meta__"}
            meta = json.loads(str(data["__meta__"]))
    except (OSError, ValueError, KeyError) as err:
        raise NeuralabError(f"cannot read the NumPy checkpoint {path}: {err}; delete it to "
                            "start the run over") from None
    return arrays, meta


def save_weights(model, path: str | Path, **meta: Any) -> Path:
    """Write ``model.params`` (and the JSON-able ``meta``, e.g. how to build it) to ``path``
    (``.npz``) atomically; :func:`load_weights` reads them back."""
    return save_checkpoint(path, {f"param.{k}": p for k, p in model.params.items()}, meta)


def load_weights(model, path: str | Path) -> dict[str, Any]:
    """Copy the parameters :func:`save_weights` wrote into ``model`` (same names and shapes,
    else a one-line error); returns the saved ``meta``."""
    arrays, meta = load_checkpoint(path)
    for k, p in model.params.items():
        saved = arrays.get(f"param.{k}")
        if saved is None or saved.shape != p.shape:
            raise NeuralabError(f"the weights {path} do not fit this network (parameter {k}: "
                                f"{None if saved is None else list(saved.shape)} saved, "
                                f"{list(p.shape)} expected)")
        p[...] = saved
    return meta


def _fit_state(model, optimizer, stream: BatchStream, gen: np.random.Generator,
               result: FitResult, extra: dict[str, Any]) -> tuple[dict, dict]:
    arrays = {f"param.{k}": p for k, p in model.params.items()}
    if hasattr(optimizer, "state_dict"):
        arrays.update({f"opt.{k}": v for k, v in optimizer.state_dict().items()})
    epoch, pos, order = stream.state()
    if order is not None:
        arrays["stream.order"] = order
    evals = {}
    for name, r in result.evals.items():
        evals[name] = {k: v for k, v in r.items() if k != "pred"}
        if "pred" in r:
            arrays[f"pred.{name}"] = r["pred"]
    meta = {"step": result.steps, "epoch": epoch, "pos": pos,
            "rng": gen.bit_generator.state, "history": result.history, "evals": evals,
            "train_time_s": result.train_time_s, "step_time_s": result.step_time_s,
            "diverged": result.diverged, **extra}
    return arrays, meta


def _restore(path, model, optimizer, stream: BatchStream, gen: np.random.Generator,
             result: FitResult) -> dict[str, Any]:
    arrays, meta = load_checkpoint(path)
    for k, p in model.params.items():
        if f"param.{k}" not in arrays or arrays[f"param.{k}"].shape != p.shape:
            raise NeuralabError(f"the NumPy checkpoint {path} does not fit this model "
                                f"(parameter {k}); delete it to start the run over")
        p[...] = arrays[f"param.{k}"]
    if hasattr(optimizer, "load_state_dict"):
        optimizer.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("opt.")})
    stream.restore(meta["epoch"], meta["pos"], arrays.get("stream.order"))
    gen.bit_generator.state = meta["rng"]
    result.history = meta["history"]
    result.steps, result.diverged = meta["step"], meta["diverged"]
    result.train_time_s, result.step_time_s = meta["train_time_s"], meta["step_time_s"]
    for name, r in meta["evals"].items():
        result.evals[name] = {**r, **({"pred": arrays[f"pred.{name}"]}
                                      if f"pred.{name}" in arrays else {})}
    return meta


# --------------------------------------------------------------------------- the loop


@dataclass
class FitResult:
    """What :func:`fit` returns.

    ``history``: the rows. ``evals``: the last evaluation of each set, as :func:`evaluate`
    returns it (with ``pred``). ``train_time_s``: the whole loop (steps, evaluations, hooks);
    ``step_time_s``: forward, backward and update only. ``diverged``: the message when
    ``on_diverge="stop"`` ended the run early, else ``None``.
    """

    history: list[dict[str, Any]]
    evals: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: int = 0
    train_time_s: float = 0.0
    step_time_s: float = 0.0
    diverged: str | None = None

    @property
    def last(self) -> dict[str, Any]:
        return self.history[-1]


def _fmt_epoch(step: int, per_epoch: int) -> int | float:
    e = step / per_epoch
    return int(e) if e == int(e) else round(e, 3)


def _fmt_lr(lr: float) -> str:
    return f"{lr:.3g}"


def fit(model, loss_fn, optimizer, x: np.ndarray, y: np.ndarray | None = None, *,
        batch_size: int, rng: np.random.Generator | int | None, steps: int | None = None,
        epochs: int | None = None, lr: float | Callable[[int, int], float] | None = None,
        lr_for_summed_loss: bool = False,
        eval_sets: dict[str, tuple[np.ndarray, np.ndarray | None]] | None = None,
        eval_every: int | None = None, eval_per_epoch: bool = False,
        eval_at_start: bool = False, eval_when: Callable[[int, int | float], bool] | None = None,
        batch_transform: Callable[[np.ndarray, np.ndarray, np.random.Generator],
                                  np.ndarray] | None = None,
        on_step: Callable[..., None] | None = None,
        on_eval: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
        on_diverge: str = "raise", explode: float = EXPLODE,
        hint: str = "lower learning_rate", log: Callable[[str], None] | None = None,
        log_every: int = 1, desc: str = "", train_mean: str = "sample",
        checkpoint: str | Path | None = None, resume: bool = False) -> FitResult:
    """Train ``model`` on ``(x [N, ...], y [N] or [N, K])`` with minibatch SGD.

    Length: ``steps`` optimiser steps, or ``epochs`` passes of ``ceil(N / batch_size)``
    batches. Step ``t`` (0-based) takes the next batch of the stream (:func:`batch_stream`
    on ``rng``), sets ``optimizer.lr`` to ``lr(t, epoch)`` (or the constant ``lr``; ``None``
    keeps the optimiser's), applies ``batch_transform(xb, idx, rng)`` (augmentation; it draws
    from ``rng`` after that epoch's permutation), then runs forward, loss, backward and
    update, then ``on_step(step=t + 1, epoch=epoch, x=xb, y=yb, loss=loss, lr=lr)``.
    ``y=None`` trains to reproduce the inputs (autoencoder).

    ``lr_for_summed_loss``: hw5 sums the loss over the batch; the engine's loss is the batch
    mean, so the optimiser gets ``lr * len(batch)``, the same update (rows keep ``lr``).

    Rows (``history``) are written at step 0 (``eval_at_start``), every ``eval_every`` steps,
    at the end of each epoch (``eval_per_epoch``) and after the last step::

        {step, epoch, lr, train_loss, train_accuracy, <name>_loss, <name>_accuracy, ...}

    ``train_*`` are means per sample over the batches since the previous row (``None`` at
    step 0); ``train_mean="batch"`` makes ``train_loss`` the mean of the batch losses
    instead (UvA's and HLCV's curves; they differ when a smaller last batch is among them).
    ``train_accuracy`` and ``<name>_accuracy`` exist for integer labels only. A loss with
    ``reduction="sum"`` counts as the batch's total. Each set of ``eval_sets`` is
    evaluated (:func:`evaluate`) at a row when ``eval_when(step, epoch)`` is true (always
    without it); ``on_eval(row)`` may return more columns. ``log(line)`` gets one line per
    ``log_every`` rows (and the last): step, train, then each set, lr, speed, time, ETA.

    Divergence (:func:`check_divergence`, every step) raises :class:`TrainingDiverged` with
    one line ending in ``hint``; ``on_diverge="stop"`` instead logs it, appends a row of NaNs
    and returns with ``diverged`` set. NumPy's overflow warnings are silenced in the loop.

    ``checkpoint``: a ``.npz`` path rewritten (atomically) after every row with the
    parameters, the optimiser's state, the generator's state, the position in the batch
    stream and the history. ``resume=True`` continues from it when it exists (else starts
    at step 0); the hooks must keep no state of their own for the result to equal an
    uninterrupted run (the HLCV torch twin does, so its experiment refuses ``--resume``).
    """
    n = len(x)
    if y is not None and len(y) != n:
        raise NeuralabError(f"x has {n} samples but y has {len(y)}")
    if train_mean not in ("sample", "batch"):
        raise NeuralabError(f"train_mean must be 'sample' or 'batch', not {train_mean!r}")
    if on_diverge not in ("raise", "stop"):
        raise NeuralabError(f"on_diverge must be 'raise' or 'stop', not {on_diverge!r}")
    per_epoch = steps_per_epoch(n, batch_size)
    total = steps if steps is not None else (epochs or 0) * per_epoch
    if total < 1:
        raise NeuralabError(f"need steps >= 1 or epochs >= 1, got steps={steps}, "
                            f"epochs={epochs}")
    if eval_every is not None and eval_every < 1:
        raise NeuralabError(f"eval_every must be >= 1, got {eval_every}")
    if "train" in (eval_sets or {}):
        raise NeuralabError("an eval set may not be called 'train' (the train_* columns are "
                            "the running means); call it e.g. 'train_full'")
    gen = make_rng(rng)
    lr_fn = lr if callable(lr) else (None if lr is None else (lambda s, e, c=float(lr): c))
    labels = _is_labels(y)
    eval_sets = eval_sets or {}
    stream = batch_stream(n, batch_size, gen)
    result = FitResult(history=[])
    state = {"first_loss": None, "rows": 0, "total": total,
             "lr": lr_fn(0, 0) if lr_fn is not None else optimizer.lr}
    # since the last row: loss * samples (or summed loss), hits, samples, loss, batches
    acc = [0.0, 0, 0, 0.0, 0]
    resumed = bool(resume and checkpoint is not None and Path(checkpoint).exists())
    if resumed:
        meta = _restore(checkpoint, model, optimizer, stream, gen, result)
        if meta["total"] != total:
            raise NeuralabError(f"the NumPy checkpoint {checkpoint} is of a run of "
                                f"{meta['total']} steps, not {total}; delete it to start over")
        state.update({k: meta[k] for k in state})
        if log is not None:
            log(f"{desc + ': ' if desc else ''}resumed from {checkpoint} at step "
                f"{result.steps}/{total}")
    origin = time.perf_counter() - result.train_time_s
    last_time = time.perf_counter()

    def save() -> None:
        if checkpoint is not None:
            result.train_time_s = time.perf_counter() - origin
            save_checkpoint(checkpoint, *_fit_state(model, optimizer, stream, gen, result,
                                                    state))

    def record(step: int) -> None:
        nonlocal acc, last_time
        epoch = _fmt_epoch(step, per_epoch)
        mean = None
        if acc[2]:
            mean = acc[3] / acc[4] if train_mean == "batch" else acc[0] / acc[2]
        row: dict[str, Any] = {"step": step, "epoch": epoch, "lr": state["lr"],
                               "train_loss": mean}
        if labels:
            row["train_accuracy"] = acc[1] / acc[2] if acc[2] else None
        if eval_when is None or eval_when(step, epoch):
            for name, (xs, ys) in eval_sets.items():
                r = evaluate(model, loss_fn, xs, ys)
                result.evals[name] = r
                row[f"{name}_loss"] = r["loss"]
                if "accuracy" in r:
                    row[f"{name}_accuracy"] = r["accuracy"]
        if on_eval is not None:
            row.update(on_eval(row) or {})
        result.history.append(row)
        now = time.perf_counter()
        if step:
            state["rows"] += 1
            if log is not None and (state["rows"] % log_every == 0 or step == total):
                log(_progress_line(desc, row, total, acc[2] / max(now - last_time, 1e-9),
                                   now - origin, eval_sets))
            last_time = now
        acc = [0.0, 0, 0, 0.0, 0]
        save()

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if eval_at_start and not resumed:
            record(0)
        for step in range(result.steps + 1, total + 1 if result.diverged is None else 0):
            epoch, idx = next(stream)
            if lr_fn is not None:
                state["lr"] = lr_fn(step - 1, epoch)
            current_lr = state["lr"]
            optimizer.lr = current_lr * len(idx) if lr_for_summed_loss else current_lr
            xb = x[idx]
            if batch_transform is not None:
                xb = batch_transform(xb, idx, gen)
            yb = xb if y is None else y[idx]
            t0 = time.perf_counter()
            loss, scores = _step(model, loss_fn, optimizer, xb, yb)
            result.step_time_s += time.perf_counter() - t0
            result.steps = step
            why = check_divergence(loss, state["first_loss"], explode)
            if state["first_loss"] is None:
                state["first_loss"] = loss
            if why is not None:
                message = (f"training diverged at step {step} of {total} (epoch "
                           f"{epoch + 1}, lr {_fmt_lr(current_lr)}: {why}); {hint}")
                if on_diverge == "raise":
                    raise TrainingDiverged(message)
                result.diverged = message
                if log is not None:
                    log(message)
                nan = float("nan")
                row = {"step": step, "epoch": _fmt_epoch(step, per_epoch), "lr": current_lr,
                       "train_loss": nan, **({"train_accuracy": nan} if labels else {})}
                for name, (_, ys) in eval_sets.items():
                    row[f"{name}_loss"] = nan
                    if _is_labels(ys):
                        row[f"{name}_accuracy"] = nan
                result.history.append(row)
                save()
                break
            acc[0] += _per_sample(loss_fn, loss, len(idx))
            if labels:
                acc[1] += int(np.count_nonzero(scores.argmax(axis=1) == yb))
            acc[2] += len(idx)
            acc[3] += loss
            acc[4] += 1
            if on_step is not None:
                on_step(step=step, epoch=epoch, x=xb, y=yb, loss=loss, lr=current_lr)
            if ((eval_every and step % eval_every == 0)
                    or (eval_per_epoch and step % per_epoch == 0) or step == total):
                record(step)
    result.train_time_s = time.perf_counter() - origin
    return result


def _progress_line(desc: str, row: dict[str, Any], total: int, per_s: float, elapsed: float,
                   eval_sets: dict) -> str:
    """``step 300/1400 (epoch 1.2)  train loss 1.83 acc 0.36 | val loss 1.79 acc 0.38 |
    lr 0.001 | 2,300 samples/s | 12 s elapsed, ETA 40 s``."""
    step = row["step"]
    parts = [f"{desc + ': ' if desc else ''}step {step}/{total} (epoch {row['epoch']})"]
    for name in ("train", *eval_sets):
        loss = row.get(f"{name}_loss")
        if loss is None:
            continue
        text = f"{name} loss {loss:.4g}"
        if row.get(f"{name}_accuracy") is not None:
            text += f" acc {row[f'{name}_accuracy']:.4f}"
        parts.append(text)
    eta = elapsed / step * (total - step)
    parts += [f"lr {_fmt_lr(row['lr'])}", f"{per_s:,.0f} samples/s",
              f"{elapsed:.0f} s elapsed, ETA {eta:.0f} s"]
    return " | ".join(parts)
