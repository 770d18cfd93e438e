"""--set logger=tensorboard: the history rows as TensorBoard scalars beside history.csv."""

import pytest

from neuralab.cli import main
from neuralab.experiments import get_experiment
from neuralab.experiments.runner import run_experiment

pytest.importorskip("tensorboard")


def test_a_run_with_logger_tensorboard_writes_every_history_row_as_scalars(
        tmp_path, cifar_blobs, one_thread):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    exp = get_experiment("cifar10-simple-cnn")
    cfg = exp.make_config({"logger": "tensorboard", "epochs": "2", "eval_every": "none",
                           "patience": "none", "val_size": "40", "gradcam_images": "0"})
    run_dir, doc = run_experiment(exp, cfg, device="cpu", out_root=tmp_path)
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/accuracy", "val/loss", "val/accuracy", "test/accuracy",
            "lr"} <= tags
    val = events.Scalars("val/accuracy")
    assert [e.step for e in val] == [int(r["step"]) for r in run_dir_history(run_dir)]
    assert val[-1].value == pytest.approx(float(run_dir_history(run_dir)[-1]["val_accuracy"]))


def run_dir_history(run_dir):
    from neuralab.io import read_csv

    return read_csv(run_dir / "history.csv")


def test_a_missing_tensorboard_is_one_line_before_the_data(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real(name, *a))
    assert main(["run", "cifar10-simple-cnn", "--set", "logger=tensorboard", "--out",
                 str(tmp_path), "--data-dir", str(tmp_path / "no-data")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("neuralab: error: logger=tensorboard needs the tensorboard package: "
                       "pip install 'neuralab[tensorboard]'")
    assert not list(tmp_path.glob("cifar10-simple-cnn/*"))  # no run folder left behind
    assert main(["run", "cifar10-simple-cnn", "--set", "logger=wandb", "--out",
                 str(tmp_path)]) == 2
    assert "unknown logger 'wandb'; use csv | tensorboard" in capsys.readouterr().err
