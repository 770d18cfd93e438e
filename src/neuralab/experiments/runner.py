"""Running an experiment: one folder per run, everything needed to judge and redo it.

``runs/NAME/<timestamp>/`` receives ``config.json`` (written first), then ``history.csv``,
``tables/*.csv``, ``plots/*.png``, ``checkpoint/`` (written by the trainer) and, when the run
finishes, ``metrics.json``: final metrics, the target and whether it was met, wall time,
hardware, library versions, the data used (source and checksum), seed and command line.
A folder with ``config.json`` but no ``metrics.json`` is an unfinished run: ``--resume``
continues it (``--resume`` alone takes the newest one that saved something to resume from: a
``checkpoint/`` or, for a sweep, finished ``cells/``).

Run folders are made with one ``mkdir`` that fails when the folder exists, so two runs started
in the same second get ``<stamp>`` and ``<stamp>-2``. While a process trains in a folder it
holds an exclusive ``flock`` on ``RUN_DIR/.lock`` (with its pid inside): a second process that
tries to resume the same run is refused. A run that fails or is interrupted before it wrote
anything but ``config.json`` leaves no folder behind.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuralab import system
from neuralab.errors import NeuralabError
from neuralab.experiments.config import as_text, config_to_dict
from neuralab.experiments.record import MODEL_FILE
from neuralab.experiments.registry import Experiment, RunResult
from neuralab.io import read_json, write_csv, write_json
from neuralab.train import distributed


@dataclass
class RunContext:
    """What an experiment's ``run`` gets besides its config: where to write, which device and
    seed, where the data lives, and whether it resumes an unfinished run."""

    name: str
    out_dir: Path
    seed: int = 0
    device: str = "cpu"
    data_dir: Path | None = None
    resume: bool = False
    is_main: bool = True
    data_sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def checkpoint_dir(self) -> Path:
        return self.out_dir / "checkpoint"

    @property
    def plots_dir(self) -> Path:
        return self.out_dir / "plots"

    def load_data(self, name: str, **options):
        """Load a dataset through :mod:`neuralab.data` and record its source for metrics.json."""
        from neuralab import data

        dataset = data.load(name, data_dir=self.data_dir, **options)
        self.record_data(dataset.source)
        return dataset

    def record_data(self, source: Any) -> None:
        entry = dataclasses.asdict(source) if dataclasses.is_dataclass(source) else dict(source)
        if entry not in self.data_sources:
            self.data_sources.append(entry)

    def save_plot(self, fig, name: str) -> Path | None:
        """Save a matplotlib figure as ``plots/<name>.png`` (atomically) and close it."""
        from neuralab.viz.common import save_figure

        if not self.is_main:
            return None
        return save_figure(fig, self.plots_dir / f"{name}.png")

    def log(self, message: str) -> None:
        if self.is_main:
            print(f"[{self.name}] {message}", file=sys.stderr, flush=True)


LOCK_FILE = ".lock"
#: sub-folders where an experiment keeps what ``--resume`` continues from: the Trainer's
#: checkpoint (``checkpoint.old`` while one is swapped in) and palindrome-sweep's finished cells
STATE_DIRS = ("checkpoint", "checkpoint.old", "cells")


def check_out_root(out_root: str | Path) -> Path:
    """``out_root`` as a Path; an empty one (which would mean the current folder) is an error."""
    if not str(out_root).strip():
        raise NeuralabError("--out is empty; give the runs folder, e.g. --out runs")
    return Path(out_root)


def new_run_dir(out_root: Path, name: str) -> Path:
    """Create and return ``out_root/name/<timestamp>`` (``-2``, ``-3``, ... when taken).

    Atomic: ``os.mkdir`` fails when the folder exists, so concurrent runs never share one.
    """
    parent = Path(out_root) / name
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NeuralabError(f"cannot create {parent}: {err.strerror or err}") from None
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for suffix in range(1, 10_000):
        run_dir = parent / (stamp if suffix == 1 else f"{stamp}-{suffix}")
        try:
            os.mkdir(run_dir)
        except FileExistsError:
            continue
        except OSError as err:
            raise NeuralabError(f"cannot create {run_dir}: {err.strerror or err}") from None
        return run_dir
    raise NeuralabError(f"cannot create a run folder under {parent}: {stamp}-2 ... are all taken")


class RunLock:
    """An exclusive, non-blocking ``flock`` on ``RUN_DIR/.lock`` held while a process trains in
    the folder; the file holds the holder's pid. The lock goes with the process (the system
    drops it when the process dies), so a killed run never leaves a stale lock."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self._file = None

    def acquire(self) -> RunLock:
        try:
            import fcntl
        except ImportError:  # no flock on this system: no lock either
            return self
        path = self.run_dir / LOCK_FILE
        try:
            f = open(path, "a+")  # noqa: SIM115 (held open while the lock is held)
        except OSError as err:
            raise NeuralabError(f"cannot lock {path}: {err.strerror or err}") from None
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            pid = f.read().strip() or "unknown"
            f.close()
            raise NeuralabError(f"run {self.run_dir} is in use by another process (pid {pid})"
                                ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file drops the flock
            self._file = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def remove_leftovers(run_dir: Path) -> list[Path]:
    """Delete the temporary files of writes a kill interrupted (``.NAME.*.tmp`` of
    :func:`neuralab.io.atomic_write_bytes`, e.g. ``plots/.curves.png.x1y2.tmp``, and a
    half-written ``checkpoint.tmp/``); safe because the caller holds the run's lock."""
    removed = [p for p in run_dir.rglob(".*.tmp") if p.is_file()]
    for path in removed:
        path.unlink(missing_ok=True)
    for folder in run_dir.rglob("*.tmp"):
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def has_resume_state(run_dir: Path) -> bool:
    """Whether ``run_dir`` saved something to continue from (a checkpoint, finished cells)."""
    for name in STATE_DIRS:
        folder = run_dir / name
        if folder.is_dir() and any(folder.iterdir()):
            return True
    return False


def has_output(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds any file besides ``config.json``, ``model.json`` and the
    lock (what every run writes before it starts)."""
    return any(p.is_file() and p.relative_to(run_dir).as_posix() not in ("config.json",
                                                                           MODEL_FILE,
                                                                           LOCK_FILE)
               for p in run_dir.rglob("*"))


def find_unfinished(out_root: Path, name: str) -> Path:
    """The newest ``runs/NAME/*`` folder with a config.json, no metrics.json and something to
    resume from (see :func:`has_resume_state`)."""
    candidates = sorted(p.parent for p in (out_root / name).glob("*/config.json"))
    unfinished = [p for p in candidates
                  if not (p / "metrics.json").exists() and has_resume_state(p)]
    if not unfinished:
        raise NeuralabError(f"--resume: no unfinished run of {name} under {out_root / name}; "
                            f"start one with `neuralab run {name}`")
    return unfinished[-1]


def read_run_config(run_dir: Path, exp: Experiment, *, strict: bool = True) -> tuple[dict, Any]:
    """``(config.json document, exp's config as saved there)`` of the run in ``run_dir``.

    A missing or malformed config.json, a run of another experiment and a saved value that is
    no longer valid are one-line errors naming the file. ``strict=False`` ignores saved fields
    that the config no longer has."""

    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise NeuralabError(f"{run_dir} is not a run folder (no config.json)")
    doc = read_json(path)
    if not (isinstance(doc, dict) and isinstance(doc.get("experiment"), str)
            and isinstance(doc.get("config"), dict)):
        raise NeuralabError(f"{path} is not a run's config.json: it needs \"experiment\" "
                            f"and \"config\"")
    if doc["experiment"] != exp.name:
        raise NeuralabError(f"{path} is a run of {doc['experiment']}, not of {exp.name}")
    seed = doc.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise NeuralabError(f"{path}: seed {seed!r} is not a seed (an integer >= 0)")
    values = doc["config"]
    if not strict:
        names = {f.name for f in dataclasses.fields(exp.config_cls)}
        values = {k: v for k, v in values.items() if k in names}
    try:
        config = exp.make_config({k: as_text(v) for k, v in values.items()})
    except NeuralabError as err:
        raise NeuralabError(f"{path}: {err}") from None
    return doc, config


def command_line() -> str:
    return "neuralab " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "neuralab"


def run_experiment(exp: Experiment, config: Any, *, seed: int = 0, device: str = "auto",
                   data_dir: str | Path | None = None, out_root: str | Path = "runs",
                   resume_dir: Path | None = None, command: str | None = None,
                   ) -> tuple[Path, dict]:
    """Run ``exp`` with ``config`` and write its run folder; returns (folder, metrics document).

    With ``resume_dir`` the run continues in that folder with the config saved there.
    Under torchrun every rank runs this; they join one process group, share rank 0's run
    folder, and only rank 0 writes files.
    """
    out_root = check_out_root(out_root)
    saved = None
    if resume_dir is not None:  # checked before anything starts
        resume_dir = Path(resume_dir)
        saved, config = read_run_config(resume_dir, exp)
        if (resume_dir / "metrics.json").exists():
            raise NeuralabError(f"run {resume_dir} is finished (it has metrics.json); start a "
                                f"new run with `neuralab run {exp.name} --config "
                                f"{resume_dir / 'config.json'}`")
    device = distributed.local_device(system.resolve_device(device))
    dist_info = distributed.init_from_env(device)
    is_main = dist_info.is_main
    command = command or command_line()
    resumed_with: list[str] = []
    if saved is not None:
        seed, run_dir = saved.get("seed", 0), resume_dir
        # the command that started the run stays its command; resumes are listed after it
        resumed_with = [*saved.get("resumed_with", []), command]
        command = saved.get("command") or command
    else:
        run_dir = distributed.broadcast_object(new_run_dir(out_root, exp.name) if is_main
                                               else None)
    lock = RunLock(run_dir)
    try:
        if is_main:
            lock.acquire()  # a run already in use by another process: a one-line error
            if saved is not None:
                remove_leftovers(run_dir)
            write_json(run_dir / "config.json", {
                "experiment": exp.name, "config": config_to_dict(config), "seed": seed,
                "device": device, "data_dir": str(data_dir) if data_dir else None,
                "command": command, **({"resumed_with": resumed_with} if resumed_with else {}),
                "world_size": dist_info.world_size,
            })
            if exp.describe is not None:  # how to use the model without this experiment's code
                record = exp.describe(config, Path(data_dir) if data_dir else None)
                write_json(run_dir / MODEL_FILE, record.to_dict())
        system.seed_everything(seed)
        if device == "cpu":
            system.keep_freed_memory()  # no page fault per new activation (see there)
        ctx = RunContext(name=exp.name, out_dir=run_dir, seed=seed, device=device,
                         data_dir=Path(data_dir) if data_dir else None,
                         resume=resume_dir is not None, is_main=is_main)
        ctx.log(f"writing {run_dir}")
        start = time.perf_counter()
        return _finish(exp, config, ctx, exp.run(config, ctx), start, command, resumed_with)
    except BaseException:
        # a run that failed or was interrupted before producing anything (missing data, a
        # bug, Ctrl-C) leaves no folder behind for --resume to pick up; one with a
        # checkpoint, cells or plots is kept
        if is_main and resume_dir is None and run_dir.is_dir() and not has_output(run_dir):
            lock.release()
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    finally:
        lock.release()


def _finish(exp: Experiment, config: Any, ctx: RunContext, result: Any, start: float,
            command: str, resumed_with: list[str]) -> tuple[Path, dict]:
    """Write history, tables and metrics.json of a run whose ``exp.run`` returned ``result``."""
    run_dir, is_main = ctx.out_dir, ctx.is_main
    if not isinstance(result, RunResult):
        raise TypeError(f"{exp.name}.run must return a RunResult, got {type(result).__name__}")
    wall = time.perf_counter() - start
    doc = metrics_document(exp, result, ctx, wall, command, config)
    if resumed_with:
        doc["resumed_with"] = resumed_with
    if is_main:
        if result.history:
            write_csv(run_dir / "history.csv", result.history)
        for table_name, rows in result.tables.items():
            write_csv(run_dir / "tables" / f"{table_name}.csv", rows)
        write_json(run_dir / "metrics.json", doc)
    return run_dir, doc


def time_to_target(target, history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """When training first met ``target``: ``{"step", "epoch", "time_s"}`` of the first
    history row whose ``target.metric`` meets the threshold (``time_s``: training wall time,
    evaluations included), or None when no row does or the history does not track it."""
    for row in history:
        value = row.get(target.metric)
        if isinstance(value, int | float) and target.met(float(value)):
            return {key: row.get(key) for key in ("step", "epoch", "time_s")}
    return None


def final_time_to_target(target, value, metrics: dict[str, Any], wall: float,
                         ) -> dict[str, Any] | None:
    """For a target that only the end of the run measures (e.g. cifar10-fast's test-time
    augmentation, absent from the history): the end of the run when it was met,
    ``{"step", "epoch", "time_s", "final": True}`` (``time_s``: the run's wall time), else
    None."""
    if not isinstance(value, int | float) or not target.met(float(value)):
        return None
    return {"step": metrics.get("steps"), "epoch": metrics.get("epochs"),
            "time_s": round(float(metrics.get("wall_time_s", wall)), 3), "final": True}


def metrics_document(exp: Experiment, result: RunResult, ctx: RunContext, wall: float,
                     command: str, config: Any) -> dict:
    value = result.metrics.get(exp.target.metric)
    return {
        "experiment": exp.name,
        "topic": exp.topic,
        "handout": exp.handout,
        "metric": exp.target.metric,
        "value": value,
        "target": dataclasses.asdict(exp.target),
        "met": exp.target.met(value),
        "time_to_target": (time_to_target(exp.target, result.history)
                           or final_time_to_target(exp.target, value, result.metrics, wall)),
        "metrics": result.metrics,
        # a resumed run reports its total training time when the experiment measured it
        "wall_time_s": round(float(result.metrics.get("wall_time_s", wall)), 3),
        "hardware": system.hardware(ctx.device),
        "versions": system.versions(),
        "data": ctx.data_sources,
        "seed": ctx.seed,
        "device": ctx.device,
        "world_size": distributed.current().world_size,
        "command": command,
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "config": config_to_dict(config),
        "notes": result.notes,
    }
