"""What bfloat16 costs in accuracy: the same recipes trained in fp32 and in bf16, several seeds.

    python benchmarks/precision_accuracy.py [--experiments cifar10-simple-cnn,...]
                                            [--seeds 0,1,2] [--precisions fp32,bf16]
                                            [--runs runs/precision] [--only-summary]

Each (experiment, precision, seed) cell is one ordinary ``neuralab run EXPERIMENT --seed S
--set precision=P`` with the experiment's default config otherwise (but see :data:`EXTRA`),
written under ``--runs``.
A cell already finished there with the same config and seed is not run again, and an
interrupted one is resumed from its checkpoint, so the whole table can be built over several
sittings (run it again with the same arguments). Cells run one after another (never two
trainings at once on a small machine).

After every cell the summary is rewritten (atomically) to
``results/benchmarks/precision_accuracy.json``: per experiment and precision the headline
metric of each seed, its mean and sample std, the wall time per seed, and the bf16 - fp32
difference of the means with the pooled seed spread beside it; ``complete`` says whether every
requested cell is in. Hardware, versions, date and the command are recorded with it.
``--only-summary`` rebuilds the file from the finished cells without training. The summary
always covers the default experiments, seeds and precisions as well as the requested ones, so
a sitting that trains only some cells keeps the others' finished cells in the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
from pathlib import Path

from neuralab.errors import NeuralabError
from neuralab.experiments import get_experiment
from neuralab.experiments.config import config_to_dict
from neuralab.experiments.runner import run_experiment
from neuralab.experiments.runs import matching_runs
from neuralab.io import read_json, write_json
from neuralab.system import hardware, versions

DEFAULT_EXPERIMENTS = ("cifar10-simple-cnn", "cifar10-cnn-best", "cifar10-fast")
DEFAULT_SEEDS = (0, 1, 2)
DEFAULT_PRECISIONS = ("fp32", "bf16")
#: settings besides precision: cifar10-fast evaluates after every epoch so that its
#: time_to_0.90_s is recorded (its wall_time_s leaves those evaluations out, as airbench does)
EXTRA = {"cifar10-fast": {"eval_each_epoch": "true"}}
OUT = Path("results/benchmarks/precision_accuracy.json")


def cell_config(name: str, precision: str):
    exp = get_experiment(name)
    return exp, exp.make_config({**EXTRA.get(name, {}), "precision": precision})


def run_cell(name: str, precision: str, seed: int, runs: Path, device: str) -> Path:
    """The finished run folder of one cell (trained, resumed or found)."""
    exp, config = cell_config(name, precision)
    finished, unfinished = matching_runs(runs, name, config_to_dict(config), seed)
    if finished:
        return finished[-1]
    run_dir, _ = run_experiment(exp, config, seed=seed, device=device, out_root=runs,
                                resume_dir=unfinished,
                                command=f"benchmarks/precision_accuracy.py ({name}, "
                                        f"{precision}, seed {seed})")
    return run_dir


def _stats(values: list[float]) -> dict:
    out = {"n": len(values)}
    if values:
        out["mean"] = round(statistics.fmean(values), 5)
    if len(values) > 1:
        out["std"] = round(statistics.stdev(values), 5)
    return out


def summarize(experiments, precisions, seeds, runs: Path) -> dict:
    """The summary document of every finished cell (see the module docstring)."""
    table, complete = {}, True
    for name in experiments:
        exp = get_experiment(name)
        per_precision = {}
        for precision in precisions:
            _, config = cell_config(name, precision)
            cells = []
            for seed in seeds:
                finished, _ = matching_runs(runs, name, config_to_dict(config), seed)
                if not finished:
                    complete = False
                    continue
                doc = read_json(finished[-1] / "metrics.json")
                m = doc["metrics"]
                cells.append({"seed": seed, "value": doc["value"], "met": doc["met"],
                              "wall_time_s": m.get("wall_time_s"),
                              "precision_used": m.get("precision", precision),
                              "steps": m.get("steps"), "run": str(finished[-1])})
            values = [c["value"] for c in cells]
            per_precision[precision] = {"seeds": cells, **_stats(values)}
        row = {"metric": exp.target.metric if exp.target else None,
               "threshold": exp.target.threshold if exp.target else None, **per_precision}
        a, b = per_precision.get("fp32", {}), per_precision.get("bf16", {})
        if "mean" in a and "mean" in b:
            row["bf16_minus_fp32"] = round(b["mean"] - a["mean"], 5)
            spreads = [s for s in (a.get("std"), b.get("std")) if s is not None]
            if spreads:
                row["seed_std_pooled"] = round(statistics.fmean(spreads), 5)
            times = [(statistics.fmean([c["wall_time_s"] for c in p["seeds"]]))
                     for p in (a, b) if p["seeds"] and all(c["wall_time_s"] for c in p["seeds"])]
            if len(times) == 2:
                row["bf16_time_ratio"] = round(times[1] / times[0], 3)
        table[name] = row
    return {"experiments": table, "precisions": list(precisions), "seeds": list(seeds),
            "complete": complete, "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "hardware": hardware("cpu"), "versions": versions(),
            "command": "python " + " ".join(sys.argv),
            "note": "one neuralab run per cell, default config except precision and seed; "
                    "wall times are of this machine, run one at a time"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiments", default=",".join(DEFAULT_EXPERIMENTS))
    p.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)))
    p.add_argument("--precisions", default=",".join(DEFAULT_PRECISIONS))
    p.add_argument("--runs", type=Path, default=Path("runs/precision"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--only-summary", action="store_true")
    args = p.parse_args(argv)
    experiments = [e for e in args.experiments.split(",") if e]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    precisions = [q for q in args.precisions.split(",") if q]
    for name in experiments:  # unknown names and settings fail before any training
        for precision in precisions:
            cell_config(name, precision)
    table = list(dict.fromkeys([*DEFAULT_EXPERIMENTS, *experiments]))
    table_seeds = sorted({*DEFAULT_SEEDS, *seeds})
    table_precisions = list(dict.fromkeys([*DEFAULT_PRECISIONS, *precisions]))
    if not args.only_summary:
        for seed in seeds:  # seed by seed: a partial table still compares like with like
            for name in experiments:
                for precision in precisions:
                    print(f"== {name} {precision} seed {seed}", file=sys.stderr, flush=True)
                    run_cell(name, precision, seed, args.runs, args.device)
                    write_json(args.out, summarize(table, table_precisions, table_seeds, args.runs))
    write_json(args.out, summarize(table, table_precisions, table_seeds, args.runs))
    print(args.out)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except NeuralabError as err:  # missing data, a bad setting: one line, exit 2
        print(f"precision_accuracy: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
