"""cifar10-fast end to end on synthetic CIFAR-shaped data (the real runs are experiments)."""

import json

import pytest
import torch

from neuralab.experiments import get_experiment
from neuralab.experiments.cifar10_fast import FastConfig, linear_decay, param_groups
from neuralab.experiments.runner import run_experiment
from neuralab.models.airbench import AirbenchNet


def _run(tmp_path, **overrides):
    exp = get_experiment("cifar10-fast")
    cfg = exp.make_config({k: str(v) for k, v in overrides.items()})
    run_dir, _ = run_experiment(exp, cfg, seed=0, device="cpu", out_root=tmp_path,
                                command="neuralab run cifar10-fast")
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


def test_fast_recipe_learns_synthetic_classes_and_reports_its_time(cifar_blobs, tmp_path):
    run_dir, doc = _run(tmp_path, widths="16,32,32", batch_size=100, epochs=6,
                        eval_each_epoch="true", whiten_images=200)
    m = doc["metrics"]
    assert m["steps"] == 6 * 4  # 400 images / 100, last partial batch dropped: 4 per epoch
    assert m["test_accuracy_tta"] >= 0.9 and m["test_accuracy"] >= 0.9, m
    assert m["wall_time_s"] == pytest.approx(m["whiten_time_s"] + m["train_steps_time_s"]
                                             + m["tta_time_s"], abs=0.05)
    assert m["train_steps_time_s"] + m["eval_time_s"] == pytest.approx(m["train_time_s"],
                                                                        abs=0.05)
    assert m["eval_time_s"] > 0  # six per-epoch test evaluations, not in the wall time
    assert m["within_time_budget"] is True
    assert doc["metric"] == "test_accuracy_tta" and doc["met"] is True
    history = (run_dir / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 6 and "test_accuracy" in history[0]
    assert (run_dir / "plots" / "curves.png").exists()


def test_learning_rates_follow_airbench_with_a_mean_loss():
    cfg = FastConfig(batch_size=2000)
    groups = param_groups(AirbenchNet(), cfg)
    muon, norms, head, whiten = groups
    assert muon["muon"] and muon["lr"] == 0.24 and all(p.ndim == 4 for p in muon["params"])
    assert len(muon["params"]) == 6  # the whitening filters are frozen
    assert norms["lr"] == pytest.approx(0.053 * 2000) and len(norms["params"]) == 6
    # SGD's effective decay per step, lr * weight_decay, is airbench's 2e-6 * batch
    assert head["lr"] * head["weight_decay"] == pytest.approx(2e-6 * 2000)
    assert whiten["params"][0].shape == (24,)
    decay = linear_decay(100)
    assert (decay(0), decay(50), decay(100), decay(150)) == (1.0, 0.5, 0.0, 0.0)


def test_whitening_bias_stops_training_after_its_epochs(cifar_blobs, tmp_path):
    run_dir, _ = _run(tmp_path, widths="8,8,8", batch_size=100, epochs=2,
                      whiten_bias_epochs=1, whiten_images=100)
    from neuralab.train.checkpoint import find_checkpoint

    state = torch.load(find_checkpoint(run_dir / "checkpoint") / "state.pt", weights_only=False)
    lrs = [g["lr"] for g in state["optimizer"]["param_groups"]]
    assert lrs[-1] == 0.0 and lrs[0] == 0.0  # both schedules reached their end


def test_freezing_the_whitening_bias_after_its_epochs_changes_nothing(cifar_blobs, tmp_path,
                                                                        monkeypatch):
    """Once its learning rate is 0 the whitening bias stops getting gradients (the backward
    pass then skips the whitening layer), and the run is exactly the run without that."""
    from neuralab.experiments import cifar10_fast

    settings = dict(widths="8,8,8", batch_size=100, epochs=3, whiten_bias_epochs=1,
                    whiten_images=100, precision="fp32")  # auto could pick differently twice
    frozen_at = []
    real = cifar10_fast.FreezeAfter.on_step_end

    def spy(self, trainer, loss):
        real(self, trainer, loss)
        if not self.param.requires_grad and not frozen_at:
            frozen_at.append(trainer.step)

    monkeypatch.setattr(cifar10_fast.FreezeAfter, "on_step_end", spy)
    _, frozen = _run(tmp_path / "a", **settings)
    monkeypatch.setattr(cifar10_fast.FreezeAfter, "on_step_end", lambda *a: None)
    _, never = _run(tmp_path / "b", **settings)
    assert frozen_at == [4]  # after the 4 steps of the first epoch
    for key in ("test_accuracy", "test_loss", "test_accuracy_tta"):
        assert frozen["metrics"][key] == never["metrics"][key], key
