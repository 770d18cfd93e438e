"""The ``neuralab`` command line (``neuralab --help`` lists every command).

Every user-fixable problem is a :class:`~neuralab.errors.NeuralabError`: its one-line message is
printed as ``neuralab: error: ...`` and the exit code is 2 (argparse uses 2 for bad flags too).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from neuralab import __version__, argtypes
from neuralab.errors import NeuralabError
from neuralab.text import text_table

DEMO_BUDGET_S = 120


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", "--data_dir", dest="data_dir", default=None,
                   help="data root (default: $NEURALAB_DATA, else ~/.cache/neuralab); "
                   "--data_dir as in the UvA handout may also name the cifar-10-batches-py folder")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuralab")
    parser.add_argument("--version", action="version", version=f"neuralab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="registered experiments with their targets and last result")
    p.add_argument("--tag", help="only experiments with this tag (e.g. demo)")
    p.add_argument("--runs", default="runs", type=argtypes.path,
                   help="runs folder for the 'last result' column")

    p = sub.add_parser("show", help="one experiment: its handout, target and every setting "
                       "with its default and allowed range")
    p.add_argument("name", help="experiment name (`neuralab list` shows them)")

    p = sub.add_parser("run", help="run one experiment",
                       description="Run an experiment. Config fields can be given as "
                       "--set key=value or in the handouts' style --key value "
                       "(e.g. --learning_rate 1e-3); `neuralab show NAME` lists them.")
    p.add_argument("name", help="experiment name (`neuralab list` shows them)")
    p.add_argument("--config", metavar="FILE",
                   help="config fields from a JSON file: a run's config.json, a results/NAME.json "
                   "(its seed too, unless --seed is given) or a plain object; --set wins")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set a config field (repeatable); `neuralab show NAME` lists them")
    p.add_argument("--seed", type=argtypes.seed, default=None,
                   help="default: 0, or the --config file's")
    p.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--out", default="runs", type=argtypes.path,
                   help="runs folder (default: runs)")
    p.add_argument("--resume", nargs="?", const="latest", default=None, metavar="RUN_DIR",
                   help="continue the newest unfinished run of NAME (or RUN_DIR)")
    p.add_argument("--nproc", type=argtypes.count, default=1,
                   help="train with N processes through torchrun + DDP")
    p.add_argument("--promote", action="store_true",
                   help="copy the finished run into results/ as the reference result")
    _add_common(p)

    p = sub.add_parser("report", help="write report.html from finished runs")
    p.add_argument("--runs", default="runs", type=argtypes.path,
                   help="runs folder to report (default: runs)")
    p.add_argument("--results", nargs="?", const="results", default=None, metavar="DIR",
                   type=argtypes.path, help="report the committed reference results in DIR "
                   "(default results/) instead of runs/")
    p.add_argument("--out", default=None, type=argtypes.path,
                   help="default: RUNS/report.html, or report.html here with --results "
                   "(compare.html with --compare)")
    p.add_argument("--pdf", nargs="?", const="", default=None, metavar="FILE",
                   help="also print the report to an A4 PDF (default: the HTML path with "
                   ".pdf); needs headless Chromium")
    p.add_argument("--compare", nargs="+", default=None, metavar="RUN_DIR",
                   type=argtypes.path, help="put these runs of one experiment side by side "
                   "(config differences, metrics, curves on one figure)")

    p = sub.add_parser("demo", help="run the quick offline experiments and write the report")
    p.add_argument("--out", default="runs", type=argtypes.path,
                   help="runs folder (default: runs)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or mps")
    _add_common(p)

    p = sub.add_parser("data", help="datasets: status | download NAME")
    dsub = p.add_subparsers(dest="data_command", required=True)
    q = dsub.add_parser("status", help="where each dataset was found, its format and counts")
    _add_common(q)
    q = dsub.add_parser("download", help="download and verify a dataset into the data root")
    q.add_argument("name", help="dataset name (`neuralab data status` lists them)")
    _add_common(q)

    p = sub.add_parser("results", help="reference results committed under results/")
    p.add_argument("--json", action="store_true", help="print them as a JSON list")
    p.add_argument("--markdown", action="store_true", help="print the README table")
    p.add_argument("--update-readme", nargs="?", const="README.md", default=None,
                   metavar="README", help="regenerate the README's results table")
    p.add_argument("--dir", default="results", type=argtypes.path,
                   help="folder of the reference results (default: results)")
    p.add_argument("--promote", metavar="RUN_DIR", type=argtypes.path,
                   help="copy a finished run into results/")

    p = sub.add_parser("gradcheck", help="numerical gradient check of every module (float64)")
    p.add_argument("--seed", type=argtypes.seed, default=0,
                   help="seed of the random inputs and parameters checked")

    p = sub.add_parser("summary", help="per-layer shapes and parameter counts of a model")
    p.add_argument("model", help="registered model name, e.g. simple_cnn")

    from neuralab.ocr.cli import add_ocr_parser

    add_ocr_parser(sub)

    from neuralab.commands.predict import add_predict_parser
    from neuralab.commands.reproduce import add_reproduce_parser
    from neuralab.commands.viz import add_viz_parser

    add_viz_parser(sub)
    add_predict_parser(sub)
    add_reproduce_parser(sub)
    parser.description = ("The neuralab command: " + " | ".join(sub.choices) +
                          ". `neuralab COMMAND --help` says more.")
    return parser


def _split_config_flags(extra: list[str]) -> list[str]:
    """Handout-style ``--learning_rate 1e-3`` / ``--max_steps=100`` -> ``key=value`` items."""
    items, i = [], 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise NeuralabError(f"unexpected argument {arg!r}; config fields go as --key value")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(extra) or extra[i + 1].startswith("--"):
                raise NeuralabError(f"{arg} needs a value, e.g. {arg} 0.01")
            value = extra[i + 1]
            i += 1
        items.append(f"{key}={value}")
        i += 1
    return items


def cmd_list(args) -> int:
    from neuralab.experiments import all_experiments
    from neuralab.experiments.catalog import all_tags
    from neuralab.report import collect_runs

    if args.tag is not None and args.tag not in all_tags():
        raise NeuralabError(f"no experiment has the tag {args.tag!r}; tags: "
                            f"{', '.join(all_tags())}")
    runs = collect_runs(args.runs) if Path(args.runs).is_dir() else {}
    rows = []
    for e in all_experiments(args.tag):
        last = runs.get(e.name, [None])[0]
        result = "—" if last is None else (
            f"{last['value']:.4f} ({'met' if last['met'] else 'missed'})"
            if isinstance(last.get("value"), float) else str(last.get("value")))
        rows.append((e.name, e.topic, e.target.describe(), result, ",".join(e.tags)))
    header = ("experiment", "topic", "target", "last result", "tags")
    print("\n".join(text_table(header, rows)))
    return 0


def cmd_show(args) -> int:
    from neuralab.experiments import get_experiment
    from neuralab.experiments.config import describe_fields

    exp = get_experiment(args.name)
    print(f"{exp.name} ({exp.topic}): {exp.description or exp.handout}")
    print(f"handout: {exp.handout}")
    print(f"target:  {exp.target.describe()} ({exp.target.source})")
    print(f"settings (neuralab run {exp.name} --set FIELD=VALUE, or --FIELD VALUE):")
    rows = describe_fields(exp.make_config())
    keys = ("field", "type", "value", "range", "note")
    lines = text_table(("field", "type", "default", "range", "note"),
                       ([r[k] for k in keys] for r in rows))
    print("\n".join("  " + line for line in lines))
    return 0


def cmd_run(args, extra: list[str]) -> int:
    from neuralab.experiments import get_experiment
    from neuralab.experiments.config import overrides_from_file, parse_set_args
    from neuralab.experiments.runner import find_unfinished, run_experiment

    exp = get_experiment(args.name)
    settings = [flag for flag, given in (("--config", args.config), ("--set", args.set),
                                         ("--seed", args.seed is not None),
                                         ("config flags", extra)) if given]
    if args.resume and settings:
        raise NeuralabError(f"--resume continues a run with the settings it started with; "
                            f"drop {', '.join(settings)} (or start a new run without --resume)")
    overrides, file_seed = {}, None
    if args.config:
        overrides, file_seed = overrides_from_file(args.config, exp.name)
        try:
            exp.make_config(overrides)
        except NeuralabError as err:
            raise NeuralabError(f"--config {args.config}: {err}") from None
    overrides.update(parse_set_args(args.set + _split_config_flags(extra)))
    config = exp.make_config(overrides)  # validates before anything starts
    seed = args.seed if args.seed is not None else file_seed or 0
    if args.nproc > 1 and "LOCAL_RANK" not in os.environ:
        from neuralab.train.distributed import launch_torchrun

        return launch_torchrun(args.nproc, sys.argv[1:])
    resume_dir = None
    if args.resume:
        resume_dir = (find_unfinished(Path(args.out), exp.name) if args.resume == "latest"
                      else Path(args.resume))
        if not (resume_dir / "config.json").is_file():
            raise NeuralabError(f"--resume {resume_dir}: not a run folder (no config.json)")
    from neuralab.train.distributed import shutdown

    rank = int(os.environ.get("RANK", "0"))
    try:
        run_dir, doc = run_experiment(exp, config, seed=seed, device=args.device,
                                      data_dir=args.data_dir, out_root=args.out,
                                      resume_dir=resume_dir)
        shutdown()
    except RuntimeError as err:  # a collective failed: another rank died or timed out
        if "WORLD_SIZE" not in os.environ:
            raise
        shutdown(wait=False)
        text = str(err).strip()
        first = text.splitlines()[0][:200] if text else type(err).__name__
        raise NeuralabError(f"rank {rank}: distributed training failed ({first}); the last "
                            "checkpoint is intact: resume with --resume and the same --nproc"
                            ) from None
    if rank == 0:
        met = {True: "met", False: "MISSED", None: "n/a"}[doc["met"]]
        value = doc["value"]
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{exp.name}: {doc['metric']} = {shown} (target {exp.target.describe()}: {met}) "
              f"in {doc['wall_time_s']:.1f} s -> {run_dir}")
        if args.promote:
            from neuralab.results import promote

            print(f"reference result written to {promote(run_dir)}")
    return 0


def cmd_report(args) -> int:
    from neuralab.report import build_compare, build_report, html_to_pdf, require_chromium

    if args.pdf is not None:
        require_chromium()  # before the report is built
    if args.compare:
        html = build_compare(args.compare, args.out)
    elif args.results:
        html = build_report(args.results, args.out or "report.html", from_results=True)
    else:
        html = build_report(args.runs, args.out)
    print(html)
    if args.pdf is not None:
        print(html_to_pdf(html, args.pdf or html.with_suffix(".pdf")))
    return 0


def cmd_demo(args) -> int:
    from neuralab.experiments import all_experiments
    from neuralab.experiments.runner import run_experiment
    from neuralab.report import build_report

    start = time.perf_counter()
    for exp in all_experiments("demo"):
        run_dir, doc = run_experiment(exp, exp.make_config(), device=args.device,
                                      data_dir=args.data_dir, out_root=args.out,
                                      command=f"neuralab run {exp.name} --device {args.device}")
        value = doc["value"]
        print(f"{exp.name}: {doc['metric']} = {value:.4f} (target {exp.target.describe()}: "
              f"{'met' if doc['met'] else 'MISSED'}) {doc['wall_time_s']:.1f} s")
    report = build_report(args.out)
    print(f"demo finished in {time.perf_counter() - start:.1f} s; report: {report}")
    return 0


def cmd_data(args) -> int:
    from neuralab import data

    if args.data_command == "status":
        print(data.format_status_table(data.status(args.data_dir)))
    else:
        print(data.download(args.name, args.data_dir))
    return 0


def cmd_results(args) -> int:
    from neuralab import results

    if args.promote:
        print(results.promote(args.promote, args.dir))
        return 0
    if args.update_readme:
        changed = results.update_readme(args.update_readme, args.dir)
        print(f"{args.update_readme}: {'updated' if changed else 'already up to date'}")
        return 0
    docs = results.load_results(args.dir)
    if args.json:
        import json

        print(json.dumps(docs, indent=2))
    elif args.markdown:
        print(results.markdown_table(results.table_rows(docs)))
    else:
        print(results.format_table(results.terminal_rows(docs)))
    return 0


def cmd_gradcheck(args) -> int:
    from neuralab.commands.gradcheck import run_all

    ok, table = run_all(seed=args.seed)
    print(table)
    return 0 if ok else 1


def cmd_summary(args) -> int:
    from neuralab.models import summary

    print(summary(args.model))
    return 0


def cmd_ocr(args) -> int:
    from neuralab.ocr.cli import main_ocr

    return main_ocr(args)


def cmd_predict(args) -> int:
    from neuralab.commands.predict import run_predict

    return run_predict(args)


def cmd_reproduce(args) -> int:
    from neuralab.commands.reproduce import run_reproduce

    return run_reproduce(args)


def cmd_viz(args) -> int:
    from neuralab.commands.viz import main_viz

    return main_viz(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    commands = {"list": cmd_list, "show": cmd_show, "report": cmd_report, "demo": cmd_demo,
                "data": cmd_data, "results": cmd_results, "gradcheck": cmd_gradcheck,
                "summary": cmd_summary, "ocr": cmd_ocr, "viz": cmd_viz,
                "predict": cmd_predict, "reproduce": cmd_reproduce}
    try:
        if args.command == "run":
            code = cmd_run(args, extra)
        else:
            code = commands[args.command](args)
    except NeuralabError as err:
        print(f"neuralab: error: {err}", file=sys.stderr)
        code = err.exit_code
    except KeyboardInterrupt:
        print("neuralab: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:  # the reader went away (`neuralab show X | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141
    except MemoryError:  # a setting too big for this machine (FIELD_BOUNDS caps most of them)
        print("neuralab: error: out of memory; use smaller sizes (batch_size, hidden units, "
              "resolution ...)", file=sys.stderr)
        code = 2
    except OSError as err:  # a path the system refuses (no such folder, no permission, full)
        if err.filename is None:
            raise  # not about a file: a bug, keep the traceback
        print(f"neuralab: error: cannot use {err.filename}: {err.strerror}", file=sys.stderr)
        code = 2
    if args.command == "run" and "torch" in sys.modules:
        from neuralab.train.distributed import exit_worker, is_torchrun_worker

        if is_torchrun_worker():
            exit_worker(code)  # no exit-time destructors: see exit_worker
    return code
