r"""Palindromes: how far back can a vanilla RNN and an LSTM remember?
(UvA DL assignment 2 part 1, VISUM practical section 3.)

The task: read the first T-1 digits of a random palindrome of length T and predict the last one,
which equals the first, so the network must carry one digit over T-1 steps. The training follows
the handout's boilerplate (``train.py``): RMSprop, learning rate 1e-3, batch 128, 128 hidden units,
gradient-norm clipping at 10 (``--max_norm``), at most 10,000 steps (``--train_steps``), scalar
digit inputs (``--input_dim 1``), cross-entropy on the last step only. One addition: training
ends early once the accuracy on a fixed held-out set of palindromes has stayed at or above
``plateau_accuracy`` for ``plateau_evals`` evaluations in a row (the step is recorded); the final
accuracy is measured on ``test_batches`` batches of fresh palindromes from an independent seed.

Naming: ``seq_length`` is T, the palindrome length *including* the target digit (what
:class:`~neuralab.data.palindromes.PalindromeDataset` takes); the boilerplate's
``--input_length`` is the number of digits fed in, T-1 (it builds
``PalindromeDataset(input_length + 1)``).

Experiments:

- ``palindrome-rnn`` / ``palindrome-lstm``: one model at one length (default T=5, the handout's
  sanity check: near-perfect accuracy with the default settings), with learning curves and the
  :math:`\|\partial L/\partial h_t\|` profile.
- ``palindrome-sweep``: both models over T = 5..40 and several seeds, each (model, T, seed) cell
  saved under ``cells/`` as soon as it finishes, so ``--resume`` continues a cut-off sweep; the
  accuracy-vs-length figure and the gradient-norm figure at T=20. ``workers`` cells train at
  once (default 2), each in a process of its own on ``num_threads`` threads, at most one per
  core: the small matrices of these networks leave a core idle otherwise, and every cell is
  its own seeded training, so the results do not depend on ``workers``.
- ``palindrome-sweep-uniform``: the same sweep with ``nn.RNN``/``nn.LSTM``'s uniform
  initialisation instead of the 2020 handout's Kaiming-normal (the initialisation decides
  which model remembers further: see results/).

``--set input_dim=10`` feeds one-hot digits instead of digit values (a variant, not the
handout's default).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from neuralab.data.palindromes import NUM_CLASSES, PalindromeDataset
from neuralab.errors import NeuralabError
from neuralab.experiments.registry import RunResult, Target, experiment
from neuralab.io import read_json, write_csv, write_json
from neuralab.models.rnn import LSTM, VanillaRNN
from neuralab.train.checkpoint import load_weights, save_weights
from neuralab.viz import plot_curves
from neuralab.viz.rnn import plot_accuracy_vs_length, plot_gradient_norms, summarize_by_length

HANDOUT = "VISUM practical §3 / UvA DL assignment 2"
MODELS: dict[str, type[torch.nn.Module]] = {"rnn": VanillaRNN, "lstm": LSTM}
SANITY = ("UvA DL assignment 2 (2018) part 1: with the default parameters the vanilla RNN should "
          "reach close to perfect accuracy on palindromes of length T=5")


@dataclass
class PalindromeTraining:
    """The handout's training settings (boilerplate flag names) plus the early-exit rule."""

    input_dim: int = 1  # 1: digit values as floats (handout default); 10: one-hot digits
    num_hidden: int = 128  # hidden state size H
    batch_size: int = 128
    learning_rate: float = 1e-3  # RMSprop
    train_steps: int = 10_000  # step cap (a fresh batch of palindromes every step)
    max_norm: float = 10.0  # clip the global gradient norm to this
    init: str = "kaiming_normal"  # kaiming_normal | uniform | normal (weights; biases 0)
    eval_every: int = 100  # steps between held-out evaluations
    val_size: int = 1024  # fixed held-out palindromes (one batch) for the early-exit rule
    plateau_accuracy: float = 0.995  # held-out accuracy that counts toward the early exit
    plateau_evals: int = 3  # evaluations in a row at >= plateau_accuracy end training
    test_batches: int = 10  # final accuracy: this many fresh batches (batch_size), own seed
    grad_batch: int = 512  # fresh sequences averaged in the dL/dh_t profile
    num_threads: int = 1  # CPU threads while training (small matrices: 1 is fastest); 0 = keep
    precision: str = "fp32"  # fp32 | bf16 | auto; bf16 was not faster for these small
    # matrices on one thread (2026-12-07), and fp32 is what the committed sweeps ran in


@dataclass
class PalindromeConfig(PalindromeTraining):
    seq_length: int = 5  # T, palindrome length including the target (= --input_length + 1)


@dataclass
class PalindromeSweepConfig(PalindromeTraining):
    seq_lengths: tuple[int, ...] = (5, 10, 15, 20, 25, 30, 40)  # palindrome lengths T to sweep
    models: tuple[str, ...] = ("rnn", "lstm")  # rnn | lstm, one or both
    seeds: int = 3  # cells use seeds ctx.seed, ctx.seed + 1, ...
    grad_seq_length: int = 20  # length of the dL/dh_t figure (first seed's trained models)
    workers: int = 2  # cells trained at once, each in its own process on num_threads threads


@dataclass
class CellRun:
    """One trained (model, T, seed): the table row, the learning curve and the model."""

    row: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    model: torch.nn.Module | None = None


# ----------------------------------------------------------------------------- training


def _stream_seed(seed: int, seq_length: int, stream: int) -> int:
    """Independent data seeds per (seed, T) for training (0), held-out (1) and test (2) data;
    the same for both models, so they see the same palindromes."""
    return int(np.random.SeedSequence([seed, seq_length, stream]).generate_state(1)[0])


def make_model(name: str, seq_length: int, seed: int, cfg: PalindromeTraining,
               device: str = "cpu") -> torch.nn.Module:
    """A fresh ``rnn``/``lstm`` for length ``seq_length``, initialised from ``seed``."""
    if name not in MODELS:
        raise NeuralabError(f"unknown palindrome model {name!r}; valid: {', '.join(MODELS)}")
    if cfg.input_dim not in (1, NUM_CLASSES):
        raise NeuralabError(f"input_dim must be 1 (digit values) or {NUM_CLASSES} (one-hot), "
                            f"got {cfg.input_dim}")
    torch.manual_seed(seed)
    return MODELS[name](seq_length - 1, cfg.input_dim, cfg.num_hidden, NUM_CLASSES,
                        init=cfg.init).to(device)


def _dataset(seq_length: int, seed: int, stream: int, cfg: PalindromeTraining,
             ) -> PalindromeDataset:
    return PalindromeDataset(seq_length, seed=_stream_seed(seed, seq_length, stream),
                             one_hot=cfg.input_dim == NUM_CLASSES, batch_size=cfg.batch_size)


@contextlib.contextmanager
def cpu_threads(n: int, device: str) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (restored afterwards); no-op for n=0 or a GPU."""
    before = torch.get_num_threads()
    if n > 0 and device == "cpu":
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fixed_batches(data: PalindromeDataset, n_batches: int, batch_size: int,
                   device: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [tuple(t.to(device) for t in data.batch(batch_size)) for _ in range(n_batches)]


class PalindromeBatches:
    """The training stream for the Trainer: an endless iterable of fresh ``(x, y)`` batches
    whose generator state is its :meth:`state_dict` (exact resume). Under DDP each rank draws
    ``batch_size / world_size`` palindromes per step from a stream of its own."""

    def __init__(self, data: PalindromeDataset, batch_size: int):
        self.data, self.batch_size = data, batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.data.batch(self.batch_size)

    def state_dict(self) -> dict[str, Any]:
        return {"bit_generator": self.data.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.data.rng.bit_generator.state = state["bit_generator"]


def _train_stream(seq_length: int, seed: int, cfg: PalindromeTraining) -> PalindromeBatches:
    from neuralab.train.distributed import current

    dist = current()
    if cfg.batch_size % dist.world_size:
        raise NeuralabError(f"batch_size {cfg.batch_size} must divide into {dist.world_size} "
                            "processes")
    data = _dataset(seq_length, seed, 0, cfg)
    if dist.rank:  # rank 0 keeps the single-process stream; the others get streams of their own
        data = PalindromeDataset(seq_length, seed=_stream_seed(seed + 7919 * dist.rank,
                                                               seq_length, 0),
                                 one_hot=cfg.input_dim == NUM_CLASSES, batch_size=cfg.batch_size)
    return PalindromeBatches(data, cfg.batch_size // dist.world_size)


def train_model(model_name: str, seq_length: int, seed: int, cfg: PalindromeTraining,
                device: str = "cpu", log: Callable[[str], None] | None = None,
                checkpoint_dir: Path | None = None, resume: bool = False,
                record_divergence: bool = False, show_progress: bool = True) -> CellRun:
    """Train one model on palindromes of length ``seq_length`` as the handout's ``train.py``
    does (RMSprop, clipping at ``max_norm``, fresh batches every step), through the Trainer:
    held-out evaluation every ``eval_every`` steps, an :class:`AccuracyPlateau` early exit,
    checkpoints in ``checkpoint_dir`` every ``eval_every * 5`` steps (exact resume with
    ``resume``). Then the test accuracy on fresh palindromes from an independent seed.

    A diverging run raises :class:`~neuralab.train.NonFiniteLoss`, or, with
    ``record_divergence`` (sweep cells), stops and is recorded as ``diverged``.
    """
    from neuralab.train import Trainer, TrainSettings
    from neuralab.train.callbacks import AccuracyPlateau, StopOnNonFinite

    start = time.perf_counter()
    with cpu_threads(cfg.num_threads, device):
        model = make_model(model_name, seq_length, seed, cfg, device)
        optimizer = torch.optim.RMSprop(model.parameters(), lr=cfg.learning_rate)
        val = _fixed_batches(_dataset(seq_length, seed, 1, cfg), 1, cfg.val_size, device)
        plateau = AccuracyPlateau(cfg.plateau_accuracy, cfg.plateau_evals)
        callbacks = [plateau, *([StopOnNonFinite()] if record_divergence else [])]
        settings = TrainSettings(max_steps=cfg.train_steps, eval_every=cfg.eval_every,
                                 grad_clip=cfg.max_norm, checkpoint_every=5 * cfg.eval_every,
                                 show_progress=show_progress, precision=cfg.precision)
        trainer = Trainer(model, optimizer, _train_stream(seq_length, seed, cfg),
                          val_loader=val, settings=settings, device=device,
                          checkpoint_dir=checkpoint_dir, log=log, callbacks=callbacks)
        fit_started = time.perf_counter()
        trainer.fit(resume=resume)
        earlier = trainer.elapsed_s - (time.perf_counter() - fit_started)  # before a resume
        test = _fixed_batches(_dataset(seq_length, seed, 2, cfg), cfg.test_batches,
                              cfg.batch_size, device)
        final = trainer.evaluate(test)
    wall = max(earlier, 0.0) + time.perf_counter() - start
    row = {"model": model_name, "seq_length": seq_length, "seed": seed,
           "accuracy": round(final["accuracy"], 5), "test_loss": round(final["loss"], 5),
           "steps": trainer.step, "stopped_early": plateau.reached,
           "plateau_step": plateau.reached_step, "diverged": trainer.diverged,
           "precision": trainer.precision, "wall_time_s": round(wall, 2)}
    if log:
        log(f"{model_name} T={seq_length} seed {seed}: accuracy {final['accuracy']:.4f} after "
            f"{trainer.step} steps ({wall:.1f} s){' [diverged]' if trainer.diverged else ''}")
    history = [{k: v for k, v in r.items() if k != "epoch"} for r in trainer.history]
    return CellRun(row=row, history=history, model=trainer.module)


def hidden_gradient_norms(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                          ) -> np.ndarray:
    r"""``[T-1]`` norms :math:`\|\partial \ell / \partial h_t\|` for t = 1..T-1, averaged over
    the sequences of the batch (``ℓ`` is each sequence's own cross-entropy, so the numbers do
    not shrink with the batch size). Leaves the model's ``.grad`` cleared."""
    with torch.enable_grad():
        logits, hidden = model(x, return_hidden=True)
        loss = F.cross_entropy(logits, y, reduction="sum")
        model.zero_grad(set_to_none=True)
        loss.backward()
        norms = torch.stack([h.grad.norm(dim=1).mean() for h in hidden])
        model.zero_grad(set_to_none=True)
    return norms.detach().cpu().double().numpy()


def _gradient_profile(models: dict[str, torch.nn.Module], seq_length: int, seed: int,
                      cfg: PalindromeTraining, device: str) -> dict[str, np.ndarray]:
    """dL/dh_t norms of each trained model and of the same model at initialisation, on the
    same fresh palindromes."""
    x, y = (t.to(device) for t in _dataset(seq_length, seed, 3, cfg).batch(cfg.grad_batch))
    out: dict[str, np.ndarray] = {}
    with cpu_threads(cfg.num_threads, device):
        for name, model in models.items():
            out[f"{name} trained"] = hidden_gradient_norms(model, x, y)
            out[f"{name} at init"] = hidden_gradient_norms(
                make_model(name, seq_length, seed, cfg, device), x, y)
    return out


def _gradient_figure(profile: dict[str, np.ndarray], seq_length: int):
    styles = {k: ("--" if k.endswith("at init") else "-o") for k in profile}
    return plot_gradient_norms(profile, styles=styles,
                               title=f"gradient reaching h_t, palindromes of length "
                                     f"T={seq_length}")


def _gradient_table(profile: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    steps = max(len(v) for v in profile.values())
    return [{"t": t + 1, **{k.replace(" ", "_"): float(v[t]) for k, v in profile.items()}}
            for t in range(steps)]


def _record_data(ctx, what: str) -> None:
    ctx.record_data({"name": "palindromes", "note": f"generated ({what})", "format": "generator",
                     "checksum": f"numpy SeedSequence([seed, T, stream]); seed {ctx.seed}"})


# ----------------------------------------------------------------------------- one length


def _run_single(model_name: str, cfg: PalindromeConfig, ctx) -> RunResult:
    _record_data(ctx, f"T={cfg.seq_length}")
    cell = train_model(model_name, cfg.seq_length, ctx.seed, cfg, ctx.device, log=ctx.log,
                       checkpoint_dir=ctx.checkpoint_dir, resume=ctx.resume)
    row = cell.row
    label = "vanilla RNN" if model_name == "rnn" else "LSTM"
    ctx.save_plot(plot_curves(cell.history, splits=("train", "val", "test"),
                              final={"test_accuracy": row["accuracy"]},
                              title=f"{label}, palindromes of length T={cfg.seq_length}"),
                  "curves")
    profile = _gradient_profile({model_name: cell.model}, cfg.seq_length, ctx.seed, cfg,
                                ctx.device)
    ctx.save_plot(_gradient_figure(profile, cfg.seq_length), "grad_norms")
    metrics = {k: row[k] for k in ("accuracy", "test_loss", "steps", "stopped_early",
                                   "plateau_step", "diverged", "precision")}
    metrics["train_time_s"] = row["wall_time_s"]
    metrics["test_samples"] = cfg.test_batches * cfg.batch_size
    verdict = (f"stopped at step {row['steps']} (held-out accuracy >= {cfg.plateau_accuracy} "
               f"for {cfg.plateau_evals} evaluations)" if row["stopped_early"]
               else f"ran the full {row['steps']} steps")
    notes = (f"{label} on palindromes of length T={cfg.seq_length} (input: the first "
             f"{cfg.seq_length - 1} digits, {'one-hot' if cfg.input_dim > 1 else 'digit values'})"
             f": test accuracy {row['accuracy']:.4f} on {metrics['test_samples']} fresh "
             f"palindromes; {verdict}.")
    return RunResult(metrics=metrics, history=cell.history,
                     tables={"grad_norms": _gradient_table(profile)}, notes=notes)


@experiment("palindrome-rnn", topic="rnn", handout=HANDOUT, config=PalindromeConfig,
            target=Target("accuracy", 0.99, SANITY), tags=("demo",))
def run_palindrome_rnn(cfg: PalindromeConfig, ctx) -> RunResult:
    """Vanilla RNN (from scratch) predicts the last digit of a palindrome of length T."""
    return _run_single("rnn", cfg, ctx)


@experiment("palindrome-lstm", topic="rnn", handout=HANDOUT, config=PalindromeConfig,
            target=Target("accuracy", 0.99, SANITY + " (the LSTM is expected to do at least "
                          "as well)"))
def run_palindrome_lstm(cfg: PalindromeConfig, ctx) -> RunResult:
    """LSTM (from scratch) predicts the last digit of a palindrome of length T."""
    return _run_single("lstm", cfg, ctx)


# ----------------------------------------------------------------------------- the sweep


def cell_key(model_name: str, seq_length: int, seed: int) -> str:
    return f"{model_name}-T{seq_length}-seed{seed}"


def _cells_dir(ctx) -> Path:
    return Path(ctx.out_dir) / "cells"


def load_finished_cells(cells_dir: Path) -> dict[str, dict[str, Any]]:
    """The rows of the cells already saved in ``cells_dir`` (``<key>.json``)."""
    out = {}
    for path in sorted(Path(cells_dir).glob("*.json")):
        doc = read_json(path)
        out[cell_key(doc["model"], int(doc["seq_length"]), int(doc["seed"]))] = doc
    return out


def _sweep_notes(summary: dict, cfg: PalindromeSweepConfig, steps: dict | None = None) -> str:
    def solved(model: str) -> list[int]:
        return [t for t, s in summary.get(model, {}).items() if s["mean"] >= 0.99]

    def lengths(ts: list[int]) -> str:
        return ", ".join(map(str, ts)) or "none"

    parts = []
    for model in cfg.models:
        if model in summary:
            ts = solved(model)
            accs = ", ".join(f"T={t}: {s['mean']:.3f}" for t, s in summary[model].items())
            parts.append(f"{model}: mean accuracy {accs}; mean >= 0.99 at T={lengths(ts)}.")
    if {"rnn", "lstm"} <= summary.keys():
        common = sorted(set(summary["rnn"]) & set(summary["lstm"]))
        better = [t for t in common if summary["lstm"][t]["mean"] > summary["rnn"][t]["mean"]
                  + 0.01]
        worse = [t for t in common if summary["rnn"][t]["mean"] > summary["lstm"][t]["mean"]
                 + 0.01]
        parts.append(f"Same step budget ({cfg.train_steps} steps, input_dim={cfg.input_dim}): "
                     f"the LSTM beats the RNN by > 0.01 mean accuracy at T={lengths(better)}; "
                     f"the RNN beats the LSTM at T={lengths(worse)}.")
        if steps:
            both = [t for t in common if min(summary["rnn"][t]["mean"],
                                             summary["lstm"][t]["mean"]) >= 0.99]
            faster = [t for t in both if steps["rnn"][t]["mean"] < steps["lstm"][t]["mean"]]
            parts.append(f"Where both reach >= 0.99 (T={lengths(both)}) the RNN needed fewer "
                         f"steps at T={lengths(faster)}.")
    return " ".join(parts)


@experiment("palindrome-sweep", topic="rnn", handout=HANDOUT, config=PalindromeSweepConfig,
            target=Target("shortest_min_accuracy", 0.99, SANITY + "; value: the lowest accuracy "
                          "over models and seeds at the shortest length of the sweep"))
def run_palindrome_sweep(cfg: PalindromeSweepConfig, ctx) -> RunResult:
    """Vanilla RNN vs LSTM: accuracy against palindrome length over several seeds
    (resumable: each cell is saved as it finishes)."""
    if not cfg.seq_lengths or not cfg.models or cfg.seeds < 1:
        raise NeuralabError("palindrome-sweep needs seq_lengths, models and seeds >= 1")
    for name in cfg.models:
        if name not in MODELS:
            raise NeuralabError(f"unknown model {name!r} in models; valid: {', '.join(MODELS)}")
    _record_data(ctx, "T=" + ",".join(map(str, cfg.seq_lengths)))
    cells_dir = _cells_dir(ctx)
    if ctx.is_main:
        cells_dir.mkdir(parents=True, exist_ok=True)
    done = load_finished_cells(cells_dir) if ctx.resume else {}
    seeds = [ctx.seed + s for s in range(cfg.seeds)]
    # seed by seed (a sweep cut off part-way still gives a complete first-seed picture), and
    # within a seed the longest, costliest lengths first, so that with 2 workers the short
    # cells fill in at the end instead of one long cell running alone (the 2026-12-07 sweeps'
    # measured cell times: 2,901 s instead of 3,212 s, and 1,904 s instead of 1,958 s)
    plan = [(m, t, s) for s in seeds for t in sorted(cfg.seq_lengths, reverse=True)
            for m in cfg.models]
    skipped = sum(cell_key(*c) in done for c in plan)
    if skipped:
        ctx.log(f"resuming: {skipped} of {len(plan)} cells already finished")
    started = time.perf_counter()
    rows = [done[cell_key(*c)] for c in plan if cell_key(*c) in done]
    todo = [c for c in plan if cell_key(*c) not in done]
    workers = _worker_count(cfg, ctx, len(todo))
    jobs = [_CellJob(m, t, s, cfg, ctx.device, cells_dir, ctx.resume,
                     keep_model=t == cfg.grad_seq_length and s == seeds[0], name=ctx.name)
            for m, t, s in todo]
    if workers > 1:
        ctx.log(f"training {len(todo)} cells, {workers} at a time (one process each)")
    for i, row in enumerate(_train_cells(jobs, workers, ctx), skipped + 1):
        rows.append(row)
        if ctx.is_main:
            write_csv(Path(ctx.out_dir) / "cells.csv", rows)  # a look mid-run
        ctx.log(f"[{i}/{len(plan)}] {cell_key(row['model'], row['seq_length'], row['seed'])} "
                f"done: accuracy {row['accuracy']:.4f}")
    elapsed = time.perf_counter() - started
    return _sweep_result(cfg, ctx, rows, seeds,
                         wall_s=elapsed + sum(float(r["wall_time_s"]) for r in done.values()))


@dataclass
class _CellJob:
    """One sweep cell to train and save (plain data, so a worker process can take it)."""

    model_name: str
    seq_length: int
    seed: int
    cfg: PalindromeTraining
    device: str
    cells_dir: Path
    resume: bool
    keep_model: bool  # save the trained weights (the dL/dh_t figure's models)
    name: str  # the experiment, for log lines

    @property
    def key(self) -> str:
        return cell_key(self.model_name, self.seq_length, self.seed)


def _worker_count(cfg: PalindromeSweepConfig, ctx, cells: int) -> int:
    """Processes to train ``cells`` cells with: ``cfg.workers``, at most one per CPU core (each
    uses ``num_threads``) and one per cell; 1 under DDP (each cell is then trained by all
    ranks) and on a GPU."""
    import os

    from neuralab.train.distributed import current

    if cfg.workers < 1:
        raise NeuralabError(f"workers must be >= 1, got {cfg.workers}")
    if current().world_size > 1 or ctx.device != "cpu":
        return 1
    per_worker = max(cfg.num_threads, 1)
    return max(1, min(cfg.workers, cells, (os.cpu_count() or 1) // per_worker))


def _train_cells(jobs: list[_CellJob], workers: int, ctx) -> Iterator[dict[str, Any]]:
    """Train and save every job's cell; yields their rows as they finish (with ``workers`` >
    1: in worker processes, in the order they finish). Results do not depend on
    ``workers``: every cell is its own seeded, single-process training."""
    if workers == 1:
        for job in jobs:
            yield _run_job(job, ctx.log, save=ctx.is_main)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = {pool.submit(_cell_in_worker, job) for job in jobs}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()


def _cell_in_worker(job: _CellJob) -> dict[str, Any]:
    """A worker process's job: its log lines go to stderr, tagged with the experiment."""
    import sys

    def log(message: str) -> None:
        print(f"[{job.name}] {message}", file=sys.stderr, flush=True)

    return _run_job(job, log, save=True)


def _run_job(job: _CellJob, log: Callable[[str], None], save: bool) -> dict[str, Any]:
    """Train one cell and save its files under ``cells/`` (weights before the JSON, which
    marks it finished); a cell cut off part-way resumes from its own checkpoint, removed once
    the cell is finished."""
    log(f"training {job.key}")
    cell_ckpt = job.cells_dir / f"{job.key}.checkpoint"
    cell = train_cell(job.model_name, job.seq_length, job.seed, job.cfg, job.device, log,
                      checkpoint_dir=cell_ckpt, resume=job.resume)
    if save:
        if job.keep_model and cell.model is not None:
            save_weights(cell.model, job.cells_dir / f"{job.key}.safetensors")
        write_csv(job.cells_dir / f"{job.key}.history.csv", cell.history or [{"step": 0}])
        write_json(job.cells_dir / f"{job.key}.json", cell.row)
        for leftover in (cell_ckpt, cell_ckpt.with_name(cell_ckpt.name + ".old")):
            shutil.rmtree(leftover, ignore_errors=True)
    return cell.row


@dataclass
class PalindromeSweepUniformConfig(PalindromeSweepConfig):
    init: str = "uniform"  # U(-1/sqrt(H), 1/sqrt(H)), as nn.RNN / nn.LSTM


@experiment("palindrome-sweep-uniform", topic="rnn", handout=HANDOUT,
            config=PalindromeSweepUniformConfig,
            target=Target("shortest_min_accuracy", 0.99, SANITY + "; value: the lowest accuracy "
                          "over models and seeds at the shortest length of the sweep"))
def run_palindrome_sweep_uniform(cfg: PalindromeSweepUniformConfig, ctx) -> RunResult:
    """``palindrome-sweep`` with ``nn.RNN``/``nn.LSTM``'s initialisation, U(-1/sqrt(H),
    1/sqrt(H)), instead of the UvA 2020 handout's Kaiming-normal: Kaiming's gain sqrt(2) puts
    W_hh's spectral radius near sqrt(2), where a tanh RNN's state is chaotic; the uniform
    init's radius is near 1/sqrt(3). Everything else is the same sweep."""
    return run_palindrome_sweep(cfg, ctx)


def train_cell(model_name: str, seq_length: int, seed: int, cfg: PalindromeTraining,
               device: str, log: Callable[[str], None] | None = None,
               checkpoint_dir: Path | None = None, resume: bool = False) -> CellRun:
    """One sweep cell (a module-level hook so tests can swap in a tiny trainer): a diverging
    cell is a result (``diverged`` in its row), not an error."""
    return train_model(model_name, seq_length, seed, cfg, device, log=log,
                       checkpoint_dir=checkpoint_dir, resume=resume, record_divergence=True,
                       show_progress=False)


def _sweep_result(cfg: PalindromeSweepConfig, ctx, rows: list[dict[str, Any]],
                  seeds: list[int], wall_s: float) -> RunResult:
    """The sweep's tables, figures and metrics. ``wall_s``: the time this sweep took (a
    resumed sweep adds the summed training times of the cells finished before, an upper bound
    of what they took); ``train_time_s`` sums every cell's own training time."""
    table = [{k: r[k] for k in ("model", "seq_length", "seed", "accuracy", "steps",
                                "stopped_early", "wall_time_s", "test_loss", "plateau_step")
              if k in r} for r in rows]
    table.sort(key=lambda r: (list(cfg.models).index(r["model"]), r["seq_length"], r["seed"]))
    summary = summarize_by_length(rows)
    steps_summary = summarize_by_length(rows, "steps")
    summary_rows = [{"model": m, "seq_length": t, "seeds": s["n"], "mean_accuracy": s["mean"],
                     "std_accuracy": s["std"], "min_accuracy": s["min"],
                     "max_accuracy": s["max"], "mean_steps": steps_summary[m][t]["mean"]}
                    for m in cfg.models if m in summary for t, s in summary[m].items()]
    title = (f"palindromes: {cfg.seeds} seed(s), at most {cfg.train_steps} steps, "
             f"{'one-hot' if cfg.input_dim > 1 else 'digit-value'} inputs")
    ctx.save_plot(plot_accuracy_vs_length(rows, title=title,
                                          step_budget=cfg.train_steps), "accuracy_vs_length")
    tables: dict[str, list[dict[str, Any]]] = {"cells": table, "summary": summary_rows}
    grad_models = {}
    for name in cfg.models:
        path = _cells_dir(ctx) / f"{cell_key(name, cfg.grad_seq_length, seeds[0])}.safetensors"
        if path.exists():
            model = make_model(name, cfg.grad_seq_length, seeds[0], cfg, ctx.device)
            load_weights(model, path)
            grad_models[name] = model
    if grad_models:
        profile = _gradient_profile(grad_models, cfg.grad_seq_length, seeds[0], cfg, ctx.device)
        ctx.save_plot(_gradient_figure(profile, cfg.grad_seq_length), "grad_norms")
        tables["grad_norms"] = _gradient_table(profile)
    else:
        ctx.log(f"no trained models at T={cfg.grad_seq_length}: gradient figure skipped")
    shortest = min(cfg.seq_lengths)
    metrics: dict[str, Any] = {
        "shortest_min_accuracy": min((r["accuracy"] for r in rows
                                      if r["seq_length"] == shortest), default=None),
        "cells": len(rows),
        "train_time_s": round(sum(float(r["wall_time_s"]) for r in rows), 2),
    }
    for m in cfg.models:
        by_t = summary.get(m, {})
        solved = [t for t, s in by_t.items() if s["mean"] >= 0.99]
        metrics[f"{m}_longest_solved_length"] = max(solved, default=None)
        for t, s in by_t.items():
            metrics[f"{m}_T{t}_mean_accuracy"] = round(s["mean"], 4)
    metrics["wall_time_s"] = round(wall_s, 2)
    metrics["workers"] = _worker_count(cfg, ctx, len(rows))
    notes = _sweep_notes(summary, cfg, steps_summary)
    return RunResult(metrics=metrics, tables=tables, notes=notes)
