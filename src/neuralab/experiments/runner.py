"""Running an experiment: one folder per run, everything needed to judge and redo it.

``runs/NAME/<timestamp>/`` receives ``config.json`` (written first), then ``history.csv``,
``tables/*.csv``, ``plots/*.png``, ``checkpoint/`` (written by the trainer) and, when the run
finishes, ``metrics.json``: final metrics, the target and whether it was met, wall time,
hardware, library versions, the data used (source and checksum), seed and command line.
A folder with ``config.json`` but no ``metrics.json`` is an unfinished run: ``--resume``
continues it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuralab import system
from neuralab.errors import NeuralabError
from neuralab.experiments.config import config_to_dict
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


def new_run_dir(out_root: Path, name: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = out_root / name / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = out_root / name / f"{stamp}-{suffix}"
    return run_dir


def find_unfinished(out_root: Path, name: str) -> Path:
    """The newest ``runs/NAME/*`` folder that has a config.json but no metrics.json."""
    candidates = sorted(p.parent for p in (out_root / name).glob("*/config.json"))
    unfinished = [p for p in candidates if not (p / "metrics.json").exists()]
    if not unfinished:
        raise NeuralabError(f"--resume: no unfinished run of {name} under {out_root / name}; "
                            f"start one with `neuralab run {name}`")
    return unfinished[-1]


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
    out_root = Path(out_root)
    device = distributed.local_device(system.resolve_device(device))
    dist_info = distributed.init_from_env(device)
    is_main = dist_info.is_main
    command = command or command_line()
    resumed_with: list[str] = []
    if resume_dir is not None:
        saved = read_json(resume_dir / "config.json")
        config = dataclasses.replace(exp.make_config(), **saved["config"])
        seed, run_dir = saved["seed"], resume_dir
        # the command that started the run stays its command; resumes are listed after it
        resumed_with = [*saved.get("resumed_with", []), command]
        command = saved.get("command") or command
    else:
        run_dir = distributed.broadcast_object(new_run_dir(out_root, exp.name) if is_main
                                               else None)
    if is_main:
        write_json(run_dir / "config.json", {
            "experiment": exp.name, "config": config_to_dict(config), "seed": seed,
            "device": device, "data_dir": str(data_dir) if data_dir else None, "command": command,
            **({"resumed_with": resumed_with} if resumed_with else {}),
            "world_size": dist_info.world_size,
        })
    system.seed_everything(seed)
    ctx = RunContext(name=exp.name, out_dir=run_dir, seed=seed, device=device,
                     data_dir=Path(data_dir) if data_dir else None,
                     resume=resume_dir is not None, is_main=is_main)
    ctx.log(f"writing {run_dir}")
    start = time.perf_counter()
    try:
        result = exp.run(config, ctx)
    except NeuralabError:
        # a run that failed before producing anything (e.g. missing data) leaves no folder
        # behind for --resume to pick up; one with a checkpoint or plots is kept
        if is_main and resume_dir is None and [p.name for p in run_dir.iterdir()] == [
                "config.json"]:
            shutil.rmtree(run_dir)
        raise
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
