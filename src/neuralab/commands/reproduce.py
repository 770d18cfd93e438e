"""``neuralab reproduce [HANDOUT...] [--quick]``: every experiment of the named handouts, then the
report.

Handouts: ``VISUM``, ``UvA``, ``HLCV``, ``TDT4265``, ``hw5`` (all of them, and the experiments
that belong to no handout, when none is named). The plan is printed first, with an estimated
time per experiment (its committed result's wall time, and the hardware that measured it).
Then, in that order, each experiment runs with its default config, unless ``runs/`` already
holds a finished run of the same config and seed (skipped) or an unfinished one (resumed).
An experiment whose data is missing is reported and skipped; the others go on. The report of
all runs (``runs/report.html``) comes last. ``runs/reproduce.json`` is rewritten after every
experiment: per planned experiment its outcome, run folder, headline value, target verdict and
wall time, and their sum over the finished runs (``runs_wall_time_s``), which adds up the
sittings of a reproduction that was interrupted and resumed.

``--quick`` checks the whole chain in minutes: every config field named in :data:`QUICK`
gets a short budget (one epoch, a few hundred images, a few dozen steps), so the figures are
not the handouts' but every step (data, training, checkpoints, plots, report) runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from neuralab import argtypes
from neuralab.errors import DataError, NeuralabError

COURSES = ("VISUM", "UvA", "HLCV", "TDT4265", "hw5")  # the names report.handouts keys

#: config field -> its value under --quick (applied to every experiment whose config has it)
QUICK: dict[str, Any] = {
    "epochs": 1, "max_steps": 20, "max_iters": 20, "num_iters": 20, "train_steps": 60,
    "eval_every": 10, "eval_freq": 10, "train_subset": 400, "test_subset": 200,
    "val_size": 100, "num_validation": 100, "seeds": 1, "seq_lengths": (5, 10),
    "grad_seq_length": 5, "plateau_evals": 1000, "gradcam_images": 2, "whiten_images": 200,
    "batch_size": 50, "pca_fit_samples": 500, "lrs": None, "photos": None,
}


def plan(courses: list[str]) -> list:
    """``[(course, experiment, Estimate)]`` for ``courses`` (all, with the
    experiments of no handout, when empty): in the report's course order
    (:mod:`neuralab.report.handouts`), by the handout's task numbers within a course."""
    from neuralab.experiments import all_experiments
    from neuralab.report.handouts import course_order, place

    wanted = {c.lower() for c in courses}
    unknown = wanted - {c.lower() for c in COURSES}
    if unknown:
        raise NeuralabError(f"unknown handout {sorted(unknown)[0]!r}; choose from "
                            f"{', '.join(COURSES)}")
    chosen = []
    for exp in all_experiments():
        where = place(exp.handout)
        if not wanted or where.course in wanted:
            chosen.append(((course_order(where.course), where.task, exp.name), where.course,
                           exp))
    chosen.sort(key=lambda t: t[0])
    return [(course, exp, estimate(exp)) for _, course, exp in chosen]


@dataclasses.dataclass(frozen=True)
class Estimate:
    """How long an experiment took when its committed result was measured: ``seconds``
    (None: no committed result), the ``cpu`` that measured it, and the settings in which that
    run differs from today's defaults (``{"precision": "fp32"}``: the figure is then only a
    guide, e.g. an upper bound where a default became faster)."""

    seconds: float | None = None
    cpu: str = ""
    differs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        if self.seconds is None:
            return "unknown (no committed result)"
        text = _duration(self.seconds) + (f" on {self.cpu}" if self.cpu else "")
        if self.differs:
            text += ", ran with " + " ".join(f"{k}={v}" for k, v in self.differs.items())
        return text


def estimate(exp, results: Path = Path("results")) -> Estimate:
    """The :class:`Estimate` of ``exp`` from ``results/NAME.json``, compared with its default
    config today."""
    import json

    from neuralab.experiments.config import config_to_dict
    from neuralab.io import read_json
    from neuralab.results import config_differences

    path = results / f"{exp.name}.json"
    if not path.is_file():
        return Estimate()
    try:
        doc = read_json(path)
        seconds, cpu = float(doc["wall_time_s"]), str(doc.get("hardware", {}).get("cpu", ""))
    except (NeuralabError, KeyError, TypeError, ValueError):
        return Estimate()
    today = json.loads(json.dumps(config_to_dict(exp.make_config())))
    committed = doc.get("config") or {}
    differs = config_differences(committed, today)
    # a field added after the result was promoted ran as it did before it existed: fp32
    if "precision" in today and "precision" not in committed and today["precision"] != "fp32":
        differs["precision"] = "fp32"
    return Estimate(seconds, cpu, differs)


def quick_overrides(exp) -> dict[str, str]:
    """The --quick budget of ``exp``: the :data:`QUICK` fields its config has."""
    from neuralab.experiments.config import as_text

    names = {f.name for f in dataclasses.fields(exp.config_cls)}
    return {k: as_text(v) for k, v in QUICK.items() if k in names and v is not None}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def write_summary(out: Path, steps: list, outcomes: list, elapsed_s: float,
                  args: argparse.Namespace) -> Path:
    """Write ``out/reproduce.json`` (atomically): see the module docstring. ``outcomes``:
    ``(name, outcome, run_dir, metrics document)`` of the experiments done so far."""
    import datetime as dt

    from neuralab.io import write_json
    from neuralab.system import hardware, resolve_device

    done = {name: (outcome, run_dir, doc) for name, outcome, run_dir, doc in outcomes}
    rows = []
    for course, exp, est in steps:
        outcome, run_dir, doc = done.get(exp.name, ("not run yet", None, None))
        row: dict[str, Any] = {"experiment": exp.name, "course": course, "outcome": outcome,
                               "run": str(run_dir) if run_dir else None,
                               "estimate_s": est.seconds}
        if doc is not None:
            row.update(metric=doc.get("metric"), value=doc.get("value"), met=doc.get("met"),
                       wall_time_s=doc.get("wall_time_s"))
        rows.append(row)
    walls = [r["wall_time_s"] for r in rows if r.get("wall_time_s") is not None]
    summary = {
        "handouts": list(args.handouts) or "all", "quick": bool(args.quick),
        "complete": all(r["run"] for r in rows),
        "runs_wall_time_s": round(sum(walls), 1), "finished": len(walls),
        "planned": len(rows), "targets_missed": [r["experiment"] for r in rows
                                                 if r.get("met") is False],
        "this_sitting_s": round(elapsed_s, 1),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "hardware": hardware(resolve_device(args.device)),
        "command": "neuralab " + " ".join(sys.argv[1:]), "experiments": rows}
    path = out / "reproduce.json"
    write_json(path, summary)
    return path


def add_reproduce_parser(sub) -> None:
    p = sub.add_parser("reproduce", help="run every experiment of the named handouts, then "
                       "the report", description=__doc__.split("\n\n")[0])
    p.add_argument("handouts", nargs="*", metavar="HANDOUT",
                   help=f"any of {', '.join(COURSES)} (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="short budgets: checks the whole chain in minutes")
    p.add_argument("--out", type=argtypes.path, default="runs", help="runs folder")
    p.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:N")
    p.add_argument("--seed", type=argtypes.seed, default=0, help="seed of every run (default 0)")
    p.add_argument("--dry-run", action="store_true", help="print the plan only")
    p.add_argument("--data-dir", "--data_dir", dest="data_dir", default=None,
                   help="data root (default: $NEURALAB_DATA, else ~/.cache/neuralab)")


def run_reproduce(args: argparse.Namespace) -> int:
    from neuralab.experiments.config import config_to_dict
    from neuralab.experiments.runner import run_experiment
    from neuralab.experiments.runs import matching_runs
    from neuralab.io import read_json

    steps = plan(args.handouts)
    out = Path(args.out)
    total = sum(e.seconds or 0 for _, _, e in steps)
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    say(f"plan: {len(steps)} experiments"
        + (" (--quick budgets)" if args.quick else f", about {_duration(total)} by their "
           "committed results"))
    for i, (course, exp, est) in enumerate(steps, 1):
        eta = "quick" if args.quick else est.describe()
        say(f"  {i:2d}. {course or '-':8s} {exp.name:28s} {eta}")
    unknown = sum(e.seconds is None for _, _, e in steps)
    if unknown and not args.quick:
        say(f"  ({unknown} without a committed result are not in the estimate; one that ran "
            "with other settings than today's defaults says which)")
    if args.dry_run:
        return 0
    started, outcomes = time.perf_counter(), []
    for i, (_, exp, _) in enumerate(steps, 1):
        overrides = quick_overrides(exp) if args.quick else {}
        config = exp.make_config(overrides)
        wanted = config_to_dict(config)
        finished, resume = matching_runs(out, exp.name, wanted, args.seed)
        say(f"[{i}/{len(steps)}] {exp.name} ({_duration(time.perf_counter() - started)} "
            f"elapsed)")
        if finished:
            outcomes.append((exp.name, "skipped: finished before", finished[-1],
                             read_json(finished[-1] / "metrics.json")))
            say(f"  already finished with this config: {finished[-1]}")
            write_summary(out, steps, outcomes, time.perf_counter() - started, args)
            continue
        try:
            run_dir, doc = run_experiment(exp, config, seed=args.seed, device=args.device,
                                          data_dir=args.data_dir, out_root=out,
                                          resume_dir=resume,
                                          command=f"neuralab reproduce ({exp.name})")
        except DataError as err:
            outcomes.append((exp.name, f"skipped: {err}", None, None))
            say(f"  skipped, its data is missing: {err}")
            write_summary(out, steps, outcomes, time.perf_counter() - started, args)
            continue
        met = {True: "target met", False: "target missed", None: "no target value"}[doc["met"]]
        outcomes.append((exp.name, f"{'resumed, ' if resume else ''}{met}", run_dir, doc))
        write_summary(out, steps, outcomes, time.perf_counter() - started, args)
    say(f"done in {_duration(time.perf_counter() - started)}:")
    for name, outcome, _, _ in outcomes:
        say(f"  {name:28s} {outcome}")
    from neuralab.report import build_report

    say(f"report: {build_report(out, out / 'report.html')}")
    missed = [name for name, outcome, _, _ in outcomes if outcome.endswith("target missed")]
    if missed and not args.quick:
        say(f"targets missed: {', '.join(missed)}")
    return 0
