"""Trainer behaviour: budgets, evaluation, early stopping, non-finite loss, checkpoints."""

import numpy as np
import pytest
import torch

from neuralab.train import (
    NonFiniteLoss,
    TensorLoader,
    Trainer,
    TrainSettings,
    compute_loss_and_accuracy,
)
from neuralab.train.checkpoint import find_checkpoint


def _blobs(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    x = (centers[y] + rng.normal(0, 0.5, (n, 2))).astype(np.float32)
    return x, y.astype(np.int64)


def _trainer(settings, tmp_path=None, lr=0.1, **kw):
    torch.manual_seed(0)
    x, y = _blobs()
    train = TensorLoader(x[:300], y[:300], 30, shuffle=True, seed=0)
    val = TensorLoader(x[300:], y[300:], 100)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    return Trainer(model, opt, train, val_loader=val, settings=settings,
                   checkpoint_dir=tmp_path / "ckpt" if tmp_path else None, **kw), val


def test_trainer_learns_and_records_history_per_epoch(tmp_path):
    trainer, val = _trainer(TrainSettings(max_epochs=5, show_progress=False), tmp_path)
    history = trainer.fit()
    assert [r["step"] for r in history] == [10, 20, 30, 40, 50]
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_accuracy"] >= 0.97
    assert compute_loss_and_accuracy(val, trainer.module)["accuracy"] == pytest.approx(
        history[-1]["val_accuracy"])
    assert find_checkpoint(tmp_path / "ckpt") is not None


def test_step_budget_and_eval_every():
    trainer, _ = _trainer(TrainSettings(max_steps=25, eval_every=10, show_progress=False))
    history = trainer.fit()
    assert trainer.step == 25
    assert [r["step"] for r in history] == [10, 20, 25]


def test_early_stopping_on_validation_loss():
    # lr 0 never improves the validation loss after the first evaluation
    trainer, _ = _trainer(TrainSettings(max_epochs=50, patience=3, show_progress=False), lr=0.0)
    trainer.fit()
    assert trainer.stopped_early
    assert trainer.step == 4 * 10  # first eval sets the best, three more without improvement


def test_nonfinite_loss_stops_with_a_clear_error_and_keeps_the_checkpoint(tmp_path):
    trainer, _ = _trainer(TrainSettings(max_epochs=3, show_progress=False), tmp_path)
    trainer.fit()
    before = (tmp_path / "ckpt" / "model.safetensors").read_bytes()

    def bad_loss(out, y):
        return torch.nn.functional.cross_entropy(out, y) * float("nan")

    trainer2, _ = _trainer(TrainSettings(max_epochs=6, show_progress=False), tmp_path,
                           loss_fn=bad_loss)
    with pytest.raises(NonFiniteLoss,
                       match=r"diverged at step \d+: the training loss became nan.*"
                             r"checkpoint is kept"):
        trainer2.fit(resume=True)
    assert (tmp_path / "ckpt" / "model.safetensors").read_bytes() == before


def test_loader_shards_are_disjoint_and_cover_the_epoch():
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10)
    shards = [TensorLoader(x, y, 2, shuffle=True, seed=1, rank=r, world_size=3) for r in range(3)]
    seen = [torch.cat([b[1] for b in s]).tolist() for s in shards]
    assert all(len(s) == 4 for s in seen)  # 10 padded to 12, 4 per rank
    assert set(sum(seen, [])) == set(range(10))
    # every rank draws the same permutation: the union without padding is a permutation
    assert len(set(sum(seen, []))) == 10


def test_extra_eval_splits_are_recorded_but_never_stop_training():
    trainer, val = _trainer(TrainSettings(max_epochs=3, show_progress=False))
    trainer.extra_eval = {"test": val}
    history = trainer.fit()
    assert [r["test_accuracy"] for r in history] == [r["val_accuracy"] for r in history]
    assert not trainer.stopped_early and trainer.step == 30


def test_time_to_accuracy_reads_the_first_row_at_each_level():
    from neuralab.experiments.cifar10 import time_to_accuracy

    history = [{"time_s": 10.0, "test_accuracy": 0.7}, {"time_s": 20.0, "test_accuracy": 0.81},
               {"time_s": 30.0, "test_accuracy": 0.79}]
    assert time_to_accuracy(history, (0.75, 0.8, 0.9)) == {
        "time_to_0.75_s": 20.0, "time_to_0.80_s": 20.0, "time_to_0.90_s": None}


def test_sync_batchnorm_under_ddp_on_a_cpu_is_refused_clearly():
    from neuralab.errors import NeuralabError
    from neuralab.train.distributed import DistInfo

    with pytest.raises(NeuralabError, match="sync_batchnorm needs GPUs"):
        _trainer(TrainSettings(max_epochs=1, sync_batchnorm=True),
                 dist=DistInfo(rank=0, world_size=2))


def test_compile_setting_compiles_the_model_in_place(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: calls.append(self))
    trainer, _ = _trainer(TrainSettings(max_epochs=1, compile=True))
    assert calls == [trainer.module]
    plain, _ = _trainer(TrainSettings(max_epochs=1))
    assert calls == [trainer.module]  # not compiled unless asked


def test_views_accuracy_averages_the_softmax_of_each_view():
    from neuralab.train.metrics import views_accuracy

    model = torch.nn.Identity()
    model.register_parameter("p", torch.nn.Parameter(torch.zeros(1)))  # gives it a device
    y = torch.tensor([0, 1, 1])
    # view a is sure of class 0 for every sample; view b is surer still of the true class
    # for the last two: the mean softmax then follows b there
    a = torch.tensor([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0]])
    b = torch.tensor([[0.0, 0.0], [0.0, 9.0], [-1.0, 0.0]])
    first = TensorLoader(a, y, batch_size=2)
    second = TensorLoader(b, y, batch_size=2)
    assert views_accuracy([first], model) == pytest.approx(1 / 3)
    assert views_accuracy([first, second], model) == pytest.approx(2 / 3)
    expected = ((a.softmax(1) + b.softmax(1)).argmax(1) == y).float().mean().item()
    assert views_accuracy([first, second], model) == pytest.approx(expected)
    with pytest.raises(ValueError, match="different labels"):
        views_accuracy([first, TensorLoader(b, torch.tensor([1, 1, 1]), batch_size=2)], model)
