"""The command line: one-line errors with exit code 2, listing, and the run/report round trip."""

import json
import subprocess
import sys

import pytest

from neuralab.cli import main


def test_unknown_experiment_exits_2_with_one_line(capsys):
    assert main(["run", "no-such-experiment"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuralab: error: unknown experiment 'no-such-experiment'")
    assert err.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["--set", "epochs"], "malformed --set 'epochs'"),
    (["--set", "nope=1"], "unknown config key 'nope'"),
    (["--epochs", "many"], "expected int"),
    (["--epochs"], "--epochs needs a value"),
    (["stray"], "unexpected argument 'stray'"),
    (["--epochs", "0"], "epochs=0 is out of range: it must be in (0, 10000]"),
    (["--epochs", "1e23"], "epochs=1e+23 is out of range: it must be in (0, 10000]"),
    (["--set", "learning_rate=-0.1"], "learning_rate=-0.1 is out of range: it must be > 0"),
    (["--set", "hidden_units=1000000000"], "hidden_units=1000000000 is out of range"),
])
def test_malformed_config_exits_2(capsys, args, message):
    assert main(["run", "digits-mlp-torch", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_resume_without_unfinished_run_exits_2(tmp_path, capsys):
    assert main(["run", "digits-mlp-torch", "--resume", "--out", str(tmp_path)]) == 2
    assert "no unfinished run of digits-mlp-torch" in capsys.readouterr().err


def test_report_without_runs_exits_2(tmp_path, capsys):
    assert main(["report", "--runs", str(tmp_path / "none")]) == 2
    assert "no runs folder" in capsys.readouterr().err


def test_list_shows_targets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "digits-mlp-torch" in out and "test_accuracy >= 0.95" in out


def test_run_handout_style_flags_and_report(tmp_path, capsys):
    code = main(["run", "digits-mlp-torch", "--epochs", "3", "--set", "batch_size=128",
                 "--out", str(tmp_path), "--device", "cpu", "--seed", "1"])
    assert code == 0
    (run_dir,) = (tmp_path / "digits-mlp-torch").iterdir()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"]["epochs"] == 3 and config["config"]["batch_size"] == 128
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["metrics"]["epochs"] == 3
    assert 0.5 < metrics["value"] <= 1.0
    assert {"curves.png", "confusion.png"} <= {p.name for p in (run_dir / "plots").iterdir()}
    assert main(["report", "--runs", str(tmp_path)]) == 0
    assert (tmp_path / "report.html").exists()


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "neuralab", "run", "nope"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "unknown experiment 'nope'" in out.stderr


def test_gradcheck_command_passes_for_every_module(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "all passed" in out and "FAIL" not in out
    for name in ("Linear", "Conv2d", "MaxPool2d", "SoftmaxCrossEntropy", "LayerNormFunction"):
        assert name in out


def test_config_file_reruns_a_run_exactly_and_set_wins(tmp_path, capsys):
    first = tmp_path / "first"
    assert main(["run", "digits-mlp-torch", "--epochs", "2", "--set", "batch_size=128",
                 "--seed", "3", "--out", str(first), "--device", "cpu"]) == 0
    (run_dir,) = (first / "digits-mlp-torch").iterdir()
    again = tmp_path / "again"
    assert main(["run", "digits-mlp-torch", "--config", str(run_dir / "config.json"),
                 "--out", str(again), "--device", "cpu"]) == 0
    (rerun_dir,) = (again / "digits-mlp-torch").iterdir()
    old, new = (json.loads((d / "metrics.json").read_text()) for d in (run_dir, rerun_dir))
    assert new["config"] == old["config"] and new["seed"] == old["seed"] == 3
    assert new["metrics"]["test_accuracy"] == old["metrics"]["test_accuracy"]
    # --set and --seed win over the file
    third = tmp_path / "third"
    assert main(["run", "digits-mlp-torch", "--config", str(run_dir / "metrics.json"),
                 "--set", "epochs=1", "--seed", "0", "--out", str(third), "--device", "cpu"]) == 0
    (third_dir,) = (third / "digits-mlp-torch").iterdir()
    doc = json.loads((third_dir / "config.json").read_text())
    assert (doc["config"]["epochs"], doc["config"]["batch_size"], doc["seed"]) == (1, 128, 0)


@pytest.mark.parametrize("content, message", [
    ({"experiment": "cifar10-cnn-a", "config": {}}, "holds a config of cifar10-cnn-a, not of "
     "digits-mlp-torch"),
    ({"epochs": 0}, "epochs=0 is out of range"),
    ({"nope": 1}, "unknown config key 'nope'"),
    ([1, 2], "expected a JSON object of config fields"),
])
def test_bad_config_files_exit_2_naming_the_file(tmp_path, capsys, content, message):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(content))
    assert main(["run", "digits-mlp-torch", "--config", str(path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--config {path}" in err and message in err and err.count("\n") == 1
    assert not (tmp_path / "digits-mlp-torch").exists()


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "argument --seed: -1 is out of range: it must be in [0, 4294967295]"),
    (["--seed", "x"], "argument --seed: 'x' is not an integer"),
    (["--nproc", "0"], "argument --nproc: 0 is out of range: it must be >= 1"),
])
def test_out_of_range_options_are_usage_errors(capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        main(["run", "digits-mlp-torch", *args])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_show_lists_every_setting_with_default_range_and_note(capsys):
    assert main(["show", "cifar10-mlp-scratch"]) == 0
    out = capsys.readouterr().out
    assert "target:  test_accuracy >= 0.48 (UvA DL 2020" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[5:]}
    assert rows["learning_rate"][1:5] == ["float", "0.001", ">", "0"]
    assert rows["dnn_hidden_units"][1:7] == ["tuple[int,", "...]", "100", "in", "[1,", "65536]"]
    assert "none | cosine | step" in " ".join(rows["lr_schedule"])
    assert rows["momentum"][3:6] == ["in", "[0,", "1)"]
    assert main(["show", "no-such"]) == 2


@pytest.mark.parametrize("args, named", [
    (["--set", "epochs=20"], "--set"),
    (["--epochs", "20"], "config flags"),
    (["--seed", "1"], "--seed"),
])
def test_resume_refuses_new_settings_instead_of_ignoring_them(tmp_path, capsys, args, named):
    assert main(["run", "digits-mlp-torch", "--resume", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert "--resume continues a run with the settings it started with; drop " + named in err


def test_a_data_root_that_cannot_be_created_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["data", "download", "mnist", "--data-dir", str(blocker / "data")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"neuralab: error: cannot use {blocker}") and err.count("\n") == 1
    assert "Not a directory" in err


def test_the_handouts_data_dir_spelling_is_the_data_root_option():
    from neuralab.cli import build_parser

    args, _ = build_parser().parse_known_args(["run", "x", "--data_dir", "/d"])
    assert args.data_dir == "/d"
    args, _ = build_parser().parse_known_args(["run", "x", "--data-dir", "/e"])
    assert args.data_dir == "/e"


def test_version_and_a_help_that_lists_every_command(capsys):
    from neuralab import __version__
    from neuralab.cli import build_parser

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out == f"neuralab {__version__}\n"
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"list", "show", "run", "report", "demo", "data", "results", "gradcheck", "summary",
            "ocr", "viz"} <= set(commands)
    assert "The neuralab command: " + " | ".join(commands) + "." in out
    for name in commands:
        assert f" {name} " in out


def test_an_unknown_tag_is_one_line(capsys):
    assert main(["list", "--tag", "no-such-tag"]) == 2
    err = capsys.readouterr().err
    assert err == "neuralab: error: no experiment has the tag 'no-such-tag'; tags: demo\n"
    assert main(["list", "--tag", "demo"]) == 0
    assert "digits-mlp-scratch" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["run", "digits-mlp-torch", "--out", ""],
    ["run", "digits-mlp-torch", "--out", " "],
    ["demo", "--out", ""],
    ["report", "--out", ""],
    ["list", "--runs", ""],
])
def test_an_empty_folder_option_is_a_usage_error(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and "must not be empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_resume_of_a_finished_run_or_of_another_experiments_run_is_refused(tmp_path, capsys):
    assert main(["run", "digits-mlp-torch", "--epochs", "1", "--out", str(tmp_path),
                 "--device", "cpu"]) == 0
    (run_dir,) = (tmp_path / "digits-mlp-torch").iterdir()
    metrics = (run_dir / "metrics.json").read_bytes()
    capsys.readouterr()
    assert main(["run", "digits-mlp-torch", "--resume", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"neuralab: error: run {run_dir} is finished (it has metrics.json)")
    assert err.count("\n") == 1 and (run_dir / "metrics.json").read_bytes() == metrics
    # the finished run is not "the newest unfinished one" either
    assert main(["run", "digits-mlp-torch", "--resume", "--out", str(tmp_path)]) == 2
    assert "no unfinished run of digits-mlp-torch" in capsys.readouterr().err
    assert main(["run", "mnist-cnn", "--resume", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err == (f"neuralab: error: {run_dir / 'config.json'} is a run of digits-mlp-torch, "
                   f"not of mnist-cnn\n")
    (run_dir / "metrics.json").unlink()
    (run_dir / "config.json").write_text("{}")
    assert main(["run", "digits-mlp-torch", "--resume", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"neuralab: error: {run_dir / 'config.json'} is not a run's "
                          "config.json") and err.count("\n") == 1


def test_every_option_and_argument_of_every_command_has_help_text():
    import argparse

    from neuralab.cli import build_parser

    missing = []

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            elif not action.help and not isinstance(action, argparse._HelpAction):
                missing.append(" ".join([*path, *(action.option_strings or [action.dest])]))

    walk(build_parser(), ["neuralab"])
    assert not missing, missing
