"""Bad invocations of every command end with exit code 2 and one line, never a traceback.

Each case calls :func:`neuralab.cli.main` in-process and must fail before any data is read or
any training starts: settings are checked first. What ends the case is either
``neuralab: error: ...`` on one line (a NeuralabError) or argparse's usage block with its
``error:`` line (a bad flag); anything else (another exit code, an exception, a traceback, a
second line) fails the case. The classes of cases and how many each has are in CLASSES; the
last test prints how each class ended.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import typing
from pathlib import Path

import pytest

from neuralab.cli import build_parser, main
from neuralab.experiments import all_experiments
from neuralab.experiments.config import FIELD_BOUNDS

COMMANDS = set(build_parser()._subparsers._group_actions[0].choices)
OUTCOMES: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def _field_cases(per_experiment: int = 3) -> list[tuple[str, list[str]]]:
    """Wrong types, out-of-range and huge values for the fields of every experiment (the
    first ``per_experiment`` bounded numbers of each; tests/experiments/test_config.py checks
    every bound of every field through ``make_config``)."""
    cases = []
    for exp in all_experiments():
        config = exp.make_config()
        hints = typing.get_type_hints(type(config))
        kinds_done: set[str] = set()
        huge = low = 0
        for f in dataclasses.fields(config):
            text = str(hints[f.name])
            kind = ("tuple" if "tuple" in text or "list" in text else "bool" if "bool" in text
                    else "int" if "int" in text else "float" if "float" in text else "str")
            run = ["run", exp.name]
            if kind not in kinds_done:  # one wrong type per kind of field and experiment
                kinds_done.add(kind)
                bad = {"int": "ten", "float": "fast", "bool": "maybe", "tuple": "1,x",
                       "str": None}[kind]
                if bad is not None:
                    cases.append(("wrong type", [*run, "--set", f"{f.name}={bad}"]))
            bounds = FIELD_BOUNDS.get(f.name)
            number = bounds is not None and kind in ("int", "float")
            if number and bounds.high is not None and huge < per_experiment:
                huge += 1
                cases.append(("huge value", [*run, f"--{f.name}", "1e12"]))
            if number and bounds.low is not None and low < per_experiment:
                low += 1
                cases.append(("out of range", [*run, "--set", f"{f.name}=-1e9"]))
        cases.append(("unknown key", [*run, "--set", "no_such_key=1"]))
        cases.append(("not a number", [*run, "--set", next(
            f"{f.name}=nan" for f in dataclasses.fields(config)
            if str(hints[f.name]) in ("<class 'int'>", "<class 'float'>"))]))
    return cases


FIELD_CASES = _field_cases()

#: (class, argv); "{tmp}" becomes a fresh temporary folder, "{run}" a fake run folder there
STATIC_CASES: list[tuple[str, list[str]]] = [
    # top level
    ("bad command", []),
    ("bad command", ["bogus"]),
    ("bad command", ["--bogus"]),
    ("bad command", ["-x"]),
    ("bad command", ["Run", "digits-mlp-torch"]),
    # run: names, flags, paths
    ("unknown experiment", ["run", "no-such-experiment"]),
    ("unknown experiment", ["run", ""]),
    ("unknown experiment", ["run", "DIGITS-MLP-TORCH"]),
    ("unknown experiment", ["run", "../digits-mlp-torch"]),
    ("bad option", ["run"]),
    ("bad option", ["run", "digits-mlp-torch", "stray"]),
    ("bad option", ["run", "digits-mlp-torch", "--epochs"]),
    ("bad option", ["run", "digits-mlp-torch", "--set"]),
    ("bad option", ["run", "digits-mlp-torch", "--set", "epochs"]),
    ("bad option", ["run", "digits-mlp-torch", "--set", "=3"]),
    ("bad option", ["run", "digits-mlp-torch", "--set", "epochs==3"]),
    ("bad option", ["run", "digits-mlp-torch", "--seed", "-1"]),
    ("bad option", ["run", "digits-mlp-torch", "--seed", "x"]),
    ("bad option", ["run", "digits-mlp-torch", "--seed", str(2**40)]),
    ("bad option", ["run", "digits-mlp-torch", "--nproc", "0"]),
    ("bad option", ["run", "digits-mlp-torch", "--nproc", "two"]),
    ("bad option", ["run", "digits-mlp-torch", "--device", "bogus"]),
    ("bad option", ["run", "digits-mlp-torch", "--device", "tpu:0"]),
    ("bad option", ["run", "digits-mlp-torch", "--resume", "--set", "epochs=2"]),
    ("bad option", ["run", "digits-mlp-torch", "--resume", "--seed", "3"]),
    ("huge value", ["run", "cifar10-mlp-torch", "--set", "hidden_units=1000000000"]),
    ("huge value", ["run", "cifar10-mlp-scratch", "--set", "threads=100000"]),
    ("huge value", ["run", "digits-mlp-torch", "--set", "epochs=1e23"]),
    ("huge value", ["run", "palindrome-rnn", "--set", "seq_length=100000"]),
    ("huge value", ["run", "digits-mlp-torch", "--set", "batch_size=1e400"]),
    ("wrong type", ["run", "chars-cnn", "--set", "widths=4,4"]),
    ("wrong type", ["run", "cifar10-fast", "--set", "widths=1,2,3,4"]),
    ("wrong type", ["run", "digits-mlp-torch", "--set", "batch_size=2.5e0"]),
    ("wrong type", ["run", "digits-mlp-torch", "--set", "epochs=3.5"]),
    ("missing path", ["run", "digits-mlp-torch", "--config", "{tmp}/none.json"]),
    ("missing path", ["run", "digits-mlp-torch", "--config", "{tmp}"]),
    ("missing path", ["run", "digits-mlp-torch", "--resume", "{tmp}/none"]),
    ("missing path", ["run", "digits-mlp-torch", "--resume", "{tmp}"]),
    ("missing path", ["run", "digits-mlp-torch", "--resume", "--out", "{tmp}"]),
    ("missing path", ["run", "digits-mlp-torch", "--out", ""]),
    ("missing path", ["run", "digits-mlp-torch", "--out", "{tmp}/file/runs"]),
    ("wrong path", ["run", "digits-mlp-torch", "--config", "{tmp}/not-json.json"]),
    ("wrong path", ["run", "digits-mlp-torch", "--config", "{tmp}/list.json"]),
    ("wrong path", ["run", "digits-mlp-torch", "--config", "{run}/config.json"]),
    ("wrong path", ["run", "digits-mlp-torch", "--resume", "{run}"]),
    ("wrong path", ["run", "mnist-cnn", "--resume", "{run}"]),
    ("wrong path", ["run", "digits-mlp-torch", "--resume", "{tmp}/empty-config"]),
    ("wrong path", ["run", "digits-mlp-torch", "--resume", "{tmp}/finished"]),
    ("missing path", ["demo", "--out", ""]),
    ("bad option", ["demo", "--bogus"]),
    # show, list
    ("unknown experiment", ["show", "no-such"]),
    ("unknown experiment", ["show", ""]),
    ("bad option", ["show"]),
    ("bad option", ["show", "digits-mlp-torch", "extra"]),
    ("bad option", ["show", "digits-mlp-torch", "--set", "epochs=2"]),
    ("bad option", ["list", "--tag", "no-such-tag"]),
    ("bad option", ["list", "--tag", ""]),
    ("bad option", ["list", "extra"]),
    ("missing path", ["list", "--runs", ""]),
    # report, results
    ("missing path", ["report", "--runs", "{tmp}/none"]),
    ("missing path", ["report", "--runs", "{tmp}/file"]),
    ("missing path", ["report", "--results", "{tmp}/none"]),
    ("missing path", ["report", "--out", ""]),
    ("bad option", ["report", "--bogus"]),
    ("missing path", ["results", "--promote", "{tmp}/none"]),
    ("missing path", ["results", "--promote", "{tmp}"]),
    ("missing path", ["results", "--update-readme", "{tmp}/none/README.md"]),
    ("missing path", ["results", "--dir", ""]),
    ("bad option", ["results", "--json", "extra"]),
    # data
    ("bad option", ["data"]),
    ("bad option", ["data", "bogus"]),
    ("bad option", ["data", "download"]),
    ("unknown name", ["data", "download", "no-such-dataset"]),
    ("unknown name", ["data", "download", ""]),
    ("missing path", ["data", "download", "mnist", "--data-dir", "{tmp}/file/data"]),
    # ocr
    ("bad option", ["ocr"]),
    ("missing path", ["ocr", "{tmp}/none.png"]),
    ("missing path", ["ocr", "{tmp}"]),
    ("wrong path", ["ocr", "{tmp}/file"]),
    ("wrong path", ["ocr", "{tmp}/not-json.json", "--model", "no-such-model"]),
    # summary, gradcheck
    ("bad option", ["summary"]),
    ("unknown name", ["summary", "no-such-model"]),
    ("unknown name", ["summary", ""]),
    ("bad option", ["gradcheck", "--seed", "-1"]),
    ("bad option", ["gradcheck", "--seed", "x"]),
    ("bad option", ["gradcheck", "extra"]),
    # viz
    ("bad option", ["viz"]),
    ("bad option", ["viz", "bogus", "{tmp}"]),
    ("bad option", ["viz", "filters"]),
    ("bad option", ["viz", "gradcam", "{run}", "--images", "0"]),
    ("bad option", ["viz", "gradcam", "{run}", "--images", "65"]),
    ("bad option", ["viz", "activations", "{run}", "--n", "x"]),
    ("missing path", ["viz", "filters", "{tmp}/none"]),
    ("missing path", ["viz", "activations", "{tmp}"]),
    ("wrong path", ["viz", "gradcam", "{tmp}/empty-config"]),
    ("wrong path", ["viz", "filters", "{tmp}/unknown-experiment"]),
    ("wrong path", ["viz", "filters", "{run}"]),  # a run without a checkpoint
]
if "predict" in COMMANDS:
    STATIC_CASES += [
        ("bad option", ["predict"]),
        ("missing path", ["predict", "{tmp}/none"]),
        ("wrong path", ["predict", "{tmp}/empty-config"]),
        ("wrong path", ["predict", "{run}"]),
        ("missing path", ["predict", "{tmp}/none", "x.png"]),
        ("wrong path", ["predict", "{run}", "{tmp}/file"]),  # no checkpoint, not an image
        ("wrong path", ["predict", "{tmp}/empty-config", "x.png"]),
        ("bad option", ["predict", "{run}", "x.png", "--topk", "0"]),
        ("wrong type", ["predict", "{run}", "x.png", "--topk", "many"]),
        ("unknown experiment", ["predict", "no-such-experiment", "x.png"]),
    ]
if "reproduce" in COMMANDS:
    STATIC_CASES += [
        ("unknown name", ["reproduce", "CS231n", "--dry-run"]),
        ("bad option", ["reproduce", "--seed", "-1", "--dry-run"]),
        ("bad option", ["reproduce", "--out", "", "--dry-run"]),
        ("bad option", ["reproduce", "--bogus"]),
        ("wrong type", ["reproduce", "--seed", "x", "--dry-run"]),
    ]

CASES = STATIC_CASES + FIELD_CASES
CLASSES = collections.Counter(cls for cls, _ in CASES)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A temporary working folder with the files the cases point at."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("a file where a folder should be")
    (tmp_path / "not-json.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    run = tmp_path / "runs" / "cifar10-cnn-a" / "20260101-000000"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(
        {"experiment": "cifar10-cnn-a", "config": {"model": "cnn_a"}, "seed": 0}))
    (tmp_path / "empty-config").mkdir()
    (tmp_path / "empty-config" / "config.json").write_text("{}")
    (tmp_path / "unknown-experiment").mkdir()
    (tmp_path / "unknown-experiment" / "config.json").write_text(json.dumps(
        {"experiment": "no-such-experiment", "config": {}}))
    finished = tmp_path / "finished"
    finished.mkdir()
    (finished / "config.json").write_text(json.dumps(
        {"experiment": "digits-mlp-torch", "config": {}, "seed": 0}))
    (finished / "metrics.json").write_text("{}")
    return {"tmp": str(tmp_path), "run": str(run)}


def _ending(code, err: str) -> str | None:
    """How a case ended, or None when it ended well."""
    lines = err.strip().splitlines()
    if code != 2:
        return f"exit {code}"
    if "Traceback" in err:
        return "traceback"
    if len(lines) == 1 and lines[0].startswith("neuralab: error: "):
        return None
    if (lines and lines[0].startswith("usage: neuralab") and
            lines[-1].startswith("neuralab") and ": error: " in lines[-1]):
        return None
    return "stderr: " + " / ".join(lines)[:300]


@pytest.mark.parametrize("cls, argv", CASES, ids=[" ".join(a)[:80] for _, a in CASES])
def test_a_bad_invocation_is_exit_2_and_one_line(places, capsys, cls, argv):
    argv = [a.format(**places) for a in argv]
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse
        code = stop.code
    except BaseException as err:
        OUTCOMES[cls][f"raised {type(err).__name__}"] += 1
        raise
    out, err = capsys.readouterr()
    ending = _ending(code, err)
    OUTCOMES[cls][ending or "exit 2, one line"] += 1
    assert ending is None, f"neuralab {' '.join(argv)}: {ending}\nstdout: {out[-500:]}"
    assert not list(Path(places["tmp"]).glob("*/*/*/metrics.json")), "something trained"


def test_there_are_enough_cases_of_every_kind():
    assert len(CASES) >= 100
    assert len(set(map(lambda c: tuple(c[1]), CASES))) == len(CASES), "duplicate cases"
    for cls in ("bad command", "unknown experiment", "unknown key", "wrong type",
                "out of range", "huge value", "missing path", "wrong path", "bad option"):
        assert CLASSES[cls] >= 3, cls
    covered = {argv[0] for _, argv in CASES if argv}
    assert COMMANDS <= covered
    print("\n" + "\n".join(f"{cls}: {n} cases" for cls, n in sorted(CLASSES.items())))


def test_zz_how_each_class_ended(capsys):
    """Runs last (pytest keeps file order): a summary of the endings seen in this session."""
    with capsys.disabled():
        for cls in sorted(OUTCOMES):
            ends = ", ".join(f"{what}: {n}" for what, n in OUTCOMES[cls].most_common())
            print(f"\n  {cls} ({CLASSES[cls]} cases): {ends}", end="")
        print()
