"""The registry and the run folder contract, with a tiny registered experiment."""

import json
from dataclasses import dataclass

import pytest

from neuralab.errors import NeuralabError
from neuralab.experiments import RunResult, Target, get_experiment
from neuralab.experiments.registry import _REGISTRY, Experiment
from neuralab.experiments.runner import find_unfinished, run_experiment
from neuralab.io import read_csv
from neuralab.viz.common import new_figure


@dataclass
class ToyConfig:
    value: float = 0.7


def _toy_run(cfg, ctx):
    fig, ax = new_figure()
    ax.plot([0, 1], [0, cfg.value])
    ctx.save_plot(fig, "line")
    ctx.record_data({"name": "toy", "note": "generated", "checksum": "none"})
    return RunResult(metrics={"score": cfg.value},
                     history=[{"step": 1, "train_loss": 1.0}, {"step": 2, "train_loss": 0.5}],
                     tables={"extra": [{"a": 1, "b": 2}]})


@pytest.fixture
def toy():
    exp = Experiment(name="toy-exp", topic="test", handout="none", config_cls=ToyConfig,
                     target=Target("score", 0.5, "made up"), run=_toy_run)
    _REGISTRY[exp.name] = exp
    yield exp
    del _REGISTRY[exp.name]


def test_run_writes_the_folder_contract(tmp_path, toy):
    run_dir, doc = run_experiment(toy, toy.make_config({"value": "0.25"}), seed=3,
                                  device="cpu", out_root=tmp_path, command="neuralab run toy-exp")
    assert run_dir.parent == tmp_path / "toy-exp"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"] == {"value": 0.25} and config["seed"] == 3
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["value"] == 0.25 and metrics["met"] is False
    assert metrics["target"]["threshold"] == 0.5
    for key in ("wall_time_s", "hardware", "versions", "data", "command", "date"):
        assert key in metrics
    assert metrics["hardware"]["cpu_cores"] >= 1 and "numpy" in metrics["versions"]
    assert metrics["data"] == [{"name": "toy", "note": "generated", "checksum": "none"}]
    assert [r["train_loss"] for r in read_csv(run_dir / "history.csv")] == ["1.0", "0.5"]
    assert read_csv(run_dir / "tables" / "extra.csv") == [{"a": "1", "b": "2"}]
    assert (run_dir / "plots" / "line.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert doc == metrics


def test_target_direction():
    assert Target("acc", 0.5, "x").met(0.5) is True
    assert Target("cer", 0.1, "x", higher_is_better=False).met(0.2) is False
    assert Target("acc", 0.5, "x").met(None) is None


def test_unknown_experiment_is_a_clear_error():
    with pytest.raises(NeuralabError, match="unknown experiment 'no-such-thing'"):
        get_experiment("no-such-thing")


def test_find_unfinished_picks_the_newest_without_metrics(tmp_path):
    for stamp, done in [("20260101-000000", False), ("20260102-000000", False),
                        ("20260103-000000", True)]:
        d = tmp_path / "x" / stamp
        d.mkdir(parents=True)
        (d / "config.json").write_text("{}")
        if done:
            (d / "metrics.json").write_text("{}")
    assert find_unfinished(tmp_path, "x").name == "20260102-000000"
    with pytest.raises(NeuralabError, match="no unfinished run"):
        find_unfinished(tmp_path, "y")


def test_a_run_failing_before_any_output_leaves_no_folder(tmp_path, toy):
    def fail(cfg, ctx):
        raise NeuralabError("cifar10 not found")

    broken = Experiment(name="toy-fail", topic="test", handout="none", config_cls=ToyConfig,
                        target=Target("score", 0.5, "made up"), run=fail)
    with pytest.raises(NeuralabError):
        run_experiment(broken, ToyConfig(), device="cpu", out_root=tmp_path)
    assert list((tmp_path / "toy-fail").iterdir()) == []


def test_recipe_experiments_belong_to_their_topic_module():
    assert get_experiment("cifar10-simple-cnn").run.__module__ == "neuralab.experiments.cifar10"
    assert get_experiment("flowers17-finetune").run.__module__ == "neuralab.experiments.transfer"
