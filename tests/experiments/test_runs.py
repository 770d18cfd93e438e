"""load_run: a run folder read back into its model, weights and config (what `neuralab viz`
and, later, `neuralab predict` / `neuralab.load_run` build on)."""

import json

import pytest
import torch

from neuralab.errors import NeuralabError
from neuralab.experiments import get_experiment
from neuralab.experiments.runs import LoadedRun, load_run, rebuild_spec
from neuralab.models.cnn import SimpleCNN
from neuralab.train.checkpoint import save_checkpoint


def _run_folder(tmp_path, experiment, config, model=None):
    run = tmp_path / experiment / "20260101-000000"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"experiment": experiment, "config": config,
                                                 "seed": 0}))
    if model is not None:
        save_checkpoint(run / "checkpoint", model, {"step": 0})
    return run


def test_a_cifar_run_comes_back_with_its_weights_and_config(tmp_path):
    torch.manual_seed(0)
    trained = SimpleCNN()
    run = _run_folder(tmp_path, "cifar10-simple-cnn",
                      {"model": "simple_cnn", "normalization": "tdt4265", "epochs": 3,
                       "gone_field": 1},  # a field of an older version is ignored
                      trained)
    loaded = load_run(run)
    assert isinstance(loaded, LoadedRun) and loaded.experiment == "cifar10-simple-cnn"
    assert loaded.config.epochs == 3 and loaded.dataset == "cifar10"
    for (name, a), (_, b) in zip(trained.state_dict().items(), loaded.model.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    assert not loaded.model.training
    x = loaded.preprocess(torch.zeros(2, 32, 32, 3, dtype=torch.uint8))
    assert x.shape == (2, 3, 32, 32) and torch.allclose(x, torch.full_like(x, -2.0))  # (0-.5)/.25


def test_each_experiment_says_how_its_model_is_rebuilt():
    transfer = get_experiment("flowers17-finetune")
    spec = rebuild_spec(transfer, transfer.make_config({"resolution": "64"}))
    assert spec["dataset"] == "flowers17" and spec["options"] == {"size": 64}
    digits = get_experiment("digits-mlp-scratch")
    with pytest.raises(NeuralabError, match="cannot rebuild the model of this digits-mlp-scratch "
                       "run: it records no model.json"):
        rebuild_spec(digits, digits.make_config())


@pytest.mark.parametrize("content, message", [
    ({}, "is not a run's config.json (no \"experiment\" name)"),
    ({"experiment": "no-such", "config": {}}, "unknown experiment 'no-such'"),
    ({"experiment": "cifar10-simple-cnn", "config": {"epochs": 0}}, "epochs=0 is out of range"),
])
def test_bad_run_folders_are_one_line(tmp_path, content, message):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(content))
    with pytest.raises(NeuralabError) as err:
        load_run(run)
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(NeuralabError, match="has no checkpoint"):
        load_run(_run_folder(tmp_path, "cifar10-simple-cnn", {"model": "simple_cnn"}))
