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


def _fake_run(root, stamp, *, done=False, state=None):
    d = root / "x" / stamp
    d.mkdir(parents=True)
    (d / "config.json").write_text("{}")
    if done:
        (d / "metrics.json").write_text("{}")
    if state:
        (d / state).mkdir()
        (d / state / "model.safetensors").write_text("")
    return d


def test_find_unfinished_picks_the_newest_without_metrics_that_can_resume(tmp_path):
    _fake_run(tmp_path, "20260101-000000", state="checkpoint")
    _fake_run(tmp_path, "20260102-000000", state="cells")  # palindrome-sweep keeps its cells
    _fake_run(tmp_path, "20260103-000000", state="checkpoint", done=True)
    _fake_run(tmp_path, "20260104-000000")  # failed before training: only config.json
    empty = _fake_run(tmp_path, "20260105-000000")
    (empty / "checkpoint").mkdir()  # an empty checkpoint folder saves nothing either
    assert find_unfinished(tmp_path, "x").name == "20260102-000000"
    (tmp_path / "x" / "20260102-000000" / "cells" / "model.safetensors").unlink()
    assert find_unfinished(tmp_path, "x").name == "20260101-000000"
    _fake_run(tmp_path, "20260106-000000", state="checkpoint.old")  # killed mid-swap
    assert find_unfinished(tmp_path, "x").name == "20260106-000000"
    with pytest.raises(NeuralabError, match="no unfinished run"):
        find_unfinished(tmp_path, "y")


def _failing(name, error):
    def fail(cfg, ctx):
        raise error

    return Experiment(name=name, topic="test", handout="none", config_cls=ToyConfig,
                      target=Target("score", 0.5, "made up"), run=fail)


@pytest.mark.parametrize("error", [NeuralabError("cifar10 not found"), KeyboardInterrupt(),
                                   RuntimeError("a bug"), MemoryError()])
def test_a_run_failing_before_any_output_leaves_no_folder(tmp_path, error):
    with pytest.raises(type(error)):
        run_experiment(_failing("toy-fail", error), ToyConfig(), device="cpu",
                       out_root=tmp_path)
    assert list((tmp_path / "toy-fail").iterdir()) == []


def test_a_run_failing_after_some_output_keeps_its_folder(tmp_path):
    def fail_late(cfg, ctx):
        ctx.checkpoint_dir.mkdir(parents=True)
        (ctx.checkpoint_dir / "model.safetensors").write_bytes(b"weights")
        raise KeyboardInterrupt

    exp = Experiment(name="toy-late", topic="test", handout="none", config_cls=ToyConfig,
                     target=Target("score", 0.5, "made up"), run=fail_late)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(exp, ToyConfig(), device="cpu", out_root=tmp_path)
    (run_dir,) = (tmp_path / "toy-late").iterdir()
    assert {p.name for p in run_dir.iterdir()} == {"config.json", "checkpoint", ".lock"}
    assert find_unfinished(tmp_path, "toy-late") == run_dir


def test_resume_continues_in_the_same_folder_with_the_saved_config(tmp_path, toy):
    seen = []

    def remember(cfg, ctx):
        seen.append((cfg.value, ctx.resume, ctx.out_dir, ctx.seed))
        if not ctx.resume:
            ctx.checkpoint_dir.mkdir(parents=True)
            (ctx.checkpoint_dir / "state").write_text("step 5")
            raise KeyboardInterrupt
        return RunResult(metrics={"score": cfg.value})

    exp = Experiment(name="toy-resume", topic="test", handout="none", config_cls=ToyConfig,
                     target=Target("score", 0.5, "made up"), run=remember)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(exp, ToyConfig(value=0.9), seed=4, device="cpu", out_root=tmp_path,
                       command="neuralab run toy-resume")
    run_dir = find_unfinished(tmp_path, "toy-resume")
    done_dir, doc = run_experiment(exp, ToyConfig(), device="cpu", out_root=tmp_path,
                                   resume_dir=run_dir, command="neuralab run --resume")
    assert done_dir == run_dir and doc["value"] == 0.9 and doc["seed"] == 4
    assert seen == [(0.9, False, run_dir, 4), (0.9, True, run_dir, 4)]
    assert doc["command"] == "neuralab run toy-resume"
    assert doc["resumed_with"] == ["neuralab run --resume"]
    # a finished run is never resumed (it would overwrite metrics.json)
    before = (run_dir / "metrics.json").read_bytes()
    with pytest.raises(NeuralabError, match=r"is finished \(it has metrics.json\)") as err:
        run_experiment(exp, ToyConfig(), device="cpu", out_root=tmp_path, resume_dir=run_dir)
    assert "\n" not in str(err.value) and (run_dir / "metrics.json").read_bytes() == before


@pytest.mark.parametrize("content, message", [
    ({}, 'is not a run\'s config.json: it needs "experiment" and "config"'),
    ([], 'is not a run\'s config.json'),
    ({"experiment": "cifar10-cnn-a", "config": {"model": "cnn_a"}},
     "is a run of cifar10-cnn-a, not of toy-exp"),
    ({"experiment": "toy-exp", "config": {"nope": 1}}, "unknown config key 'nope'"),
    ({"experiment": "toy-exp", "config": {"value": "x"}}, "expected float"),
    ({"experiment": "toy-exp", "config": {}, "seed": "x"}, "seed 'x' is not a seed"),
])
def test_resuming_a_bad_config_json_is_one_line_naming_it(tmp_path, toy, content, message):
    run_dir = tmp_path / "toy-exp" / "20260101-000000"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(content))
    with pytest.raises(NeuralabError) as err:
        run_experiment(toy, ToyConfig(), device="cpu", out_root=tmp_path, resume_dir=run_dir)
    text = str(err.value)
    assert str(run_dir / "config.json") in text and message in text and "\n" not in text
    assert {p.name for p in run_dir.iterdir()} == {"config.json"}  # nothing written


def test_an_empty_out_folder_is_refused(tmp_path, toy, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NeuralabError, match="--out is empty"):
        run_experiment(toy, ToyConfig(), device="cpu", out_root="")
    assert list(tmp_path.iterdir()) == []


def test_experiments_know_their_topic_module_without_a_rewritten_run_module():
    cnn = get_experiment("cifar10-simple-cnn")
    assert cnn.module == "neuralab.experiments.cifar10"
    assert cnn.run.__module__ == "neuralab.experiments.registry"  # the recipe's wrapper
    assert get_experiment("flowers17-finetune").module == "neuralab.experiments.transfer"
    assert get_experiment("digits-mlp-torch").module == "neuralab.experiments.digits"


def test_time_to_target_is_the_first_history_row_that_meets_it():
    from neuralab.experiments.registry import Target
    from neuralab.experiments.runner import time_to_target

    history = [{"step": 10, "epoch": 1, "time_s": 3.0, "test_accuracy": 0.5},
               {"step": 20, "epoch": 2, "time_s": 6.5, "test_accuracy": 0.81},
               {"step": 30, "epoch": 3, "time_s": 9.0, "test_accuracy": 0.79}]
    assert time_to_target(Target("test_accuracy", 0.8, "x"), history) == {
        "step": 20, "epoch": 2, "time_s": 6.5}
    assert time_to_target(Target("test_accuracy", 0.9, "x"), history) is None
    assert time_to_target(Target("val_psnr", 19.0, "x"), history) is None
    loss = Target("test_loss", 0.2, "x", higher_is_better=False)
    assert time_to_target(loss, [{"step": 5, "test_loss": 0.3}, {"step": 6, "test_loss": 0.1}]
                          ) == {"step": 6, "epoch": None, "time_s": None}


def test_a_target_only_the_end_measures_is_met_at_the_end():
    """cifar10-fast's TTA accuracy is measured once, after training: its time to target is
    the run's wall time when it is met, and None when it is not."""
    from neuralab.experiments.registry import Target
    from neuralab.experiments.runner import final_time_to_target

    tta = Target("test_accuracy_tta", 0.9065, "x")
    metrics = {"steps": 213, "epochs": 8.52, "wall_time_s": 1048.48}
    assert final_time_to_target(tta, 0.9099, metrics, 1200.0) == {
        "step": 213, "epoch": 8.52, "time_s": 1048.48, "final": True}
    assert final_time_to_target(tta, 0.9051, metrics, 1200.0) is None
    assert final_time_to_target(tta, None, metrics, 1200.0) is None
