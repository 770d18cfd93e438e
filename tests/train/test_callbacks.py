"""Trainer events and callbacks; divergence handling; checkpoints that are finite and
pickle-free; full disk."""

import errno
import math

import numpy as np
import pytest
import torch
from test_trainer import _blobs  # the same three-blob problem as the Trainer's tests

from neuralab.errors import NeuralabError
from neuralab.train import NonFiniteLoss, TensorLoader, Trainer, TrainSettings
from neuralab.train import checkpoint as ckpt
from neuralab.train.callbacks import (
    AccuracyPlateau,
    Callback,
    EarlyStopping,
    PrintEvaluations,
    StopOnNonFinite,
    TimeToAccuracy,
)


def _trainer(settings=None, tmp_path=None, lr=0.1, model=None, **kw):
    torch.manual_seed(0)
    x, y = _blobs()
    train = TensorLoader(x[:300], y[:300], 30, shuffle=True, seed=0)
    val = TensorLoader(x[300:], y[300:], 100)
    model = model or torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(),
                                         torch.nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    settings = settings or TrainSettings(max_epochs=5, show_progress=False)
    return Trainer(model, opt, train, val_loader=val, settings=settings,
                   checkpoint_dir=tmp_path / "ckpt" if tmp_path else None, **kw)


def test_events_arrive_in_order_and_a_callback_can_stop_training():
    seen = []

    class Spy(Callback):
        def on_step_end(self, trainer, loss):
            seen.append(("step", trainer.step))
            assert loss.ndim == 0 and not loss.requires_grad

        def on_eval_end(self, trainer, row):
            seen.append(("eval", row["step"]))
            if row["step"] == 20:
                trainer.request_stop("enough")

        def on_fit_end(self, trainer):
            seen.append(("end", trainer.step))

    trainer = _trainer(callbacks=[Spy()])
    trainer.fit()
    assert seen[:11] == [("step", i) for i in range(1, 11)] + [("eval", 10)]
    assert seen[-2:] == [("eval", 20), ("end", 20)]
    assert trainer.step == 20 and trainer.stopped_early and trainer.stop_reason == "enough"


def test_patience_is_the_default_early_stopping_callback():
    trainer = _trainer(TrainSettings(max_epochs=50, patience=3, show_progress=False), lr=0.0)
    trainer.fit()
    stopper = trainer.callback(EarlyStopping)
    assert stopper is not None and stopper.patience == 3
    assert trainer.step == 40 and "val_loss has not improved for 3" in trainer.stop_reason


def test_restore_best_loads_the_best_weights_and_says_from_which_step():
    trainer = _trainer(TrainSettings(max_epochs=6, restore_best=True, show_progress=False))
    history = trainer.fit()
    best = min(history, key=lambda r: r["val_loss"])
    assert trainer.restored_step == best["step"]
    assert trainer.evaluate(trainer.val_loader)["loss"] == pytest.approx(best["val_loss"])


def test_accuracy_plateau_stops_after_n_evaluations_at_the_threshold():
    plateau = AccuracyPlateau(0.9, evals=2)
    trainer = _trainer(TrainSettings(max_epochs=30, show_progress=False), callbacks=[plateau])
    history = trainer.fit()
    accs = [r["val_accuracy"] for r in history]
    assert plateau.reached and trainer.stopped_early
    assert accs[-1] >= 0.9 and accs[-2] >= 0.9
    first = next(i for i in range(len(accs)) if all(a >= 0.9 for a in accs[i:]))
    assert plateau.reached_step == history[first]["step"]
    assert len(history) < 30


def test_time_to_accuracy_records_the_first_evaluation_at_each_level():
    timer = TimeToAccuracy((0.5, 0.99, 1.01))
    trainer = _trainer(TrainSettings(max_epochs=5, show_progress=False), callbacks=[timer])
    history = trainer.fit()
    first = next(r for r in history if r["val_accuracy"] >= 0.5)
    assert timer.reached[0.5] == {"step": first["step"], "epoch": first["epoch"],
                                "time_s": first["time_s"]}
    m = timer.metrics()
    assert m["time_to_0.5_step"] == first["step"] and m["time_to_1.01_s"] is None


def test_nonfinite_loss_raises_by_default_and_stop_on_nonfinite_records_it():
    def nan_after_15(out, y):
        nan_after_15.calls += 1
        loss = torch.nn.functional.cross_entropy(out, y)
        return loss * float("nan") if nan_after_15.calls > 15 else loss

    nan_after_15.calls = 0
    with pytest.raises(NonFiniteLoss, match="diverged at step 15: the training loss became nan"):
        _trainer(loss_fn=nan_after_15).fit()
    nan_after_15.calls = 0
    trainer = _trainer(loss_fn=nan_after_15, callbacks=[StopOnNonFinite()])
    trainer.fit()
    assert trainer.diverged and trainer.step == 14
    # the check comes before the update: the weights are those of the last finite step
    assert all(torch.isfinite(p).all() for p in trainer.module.parameters())


def test_an_exploding_finite_loss_is_divergence(tmp_path):
    # lr 1e6 on a tiny MLP: the loss stays finite for a while but explodes (issue 20, item 3)
    trainer = _trainer(TrainSettings(max_epochs=20, show_progress=False), tmp_path, lr=1e6)
    with pytest.raises(NonFiniteLoss, match=r"diverged at step \d+: the training loss .* is "
                                            r"more than 100x its start"):
        trainer.fit()


def test_overflowing_weights_are_divergence():
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    model.register_parameter("unused", torch.nn.Parameter(torch.tensor([1e12])))
    trainer = _trainer(TrainSettings(max_epochs=2, show_progress=False), model=model)
    with pytest.raises(NonFiniteLoss, match=r"diverged at step 10: a weight reached 1e\+12"):
        trainer.fit()


def test_a_checkpoint_with_a_nonfinite_buffer_is_never_written(tmp_path):
    # BatchNorm's running variance overflows before the loss does (issue 20, item 2)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.BatchNorm1d(16),
                                torch.nn.ReLU(), torch.nn.Linear(16, 3))
    trainer = _trainer(TrainSettings(max_epochs=1, show_progress=False), tmp_path, model=model)
    trainer.fit()
    good = (tmp_path / "ckpt" / "model.safetensors").read_bytes()
    trainer.settings.max_epochs = 2
    model[1].running_var[3] = math.inf
    with pytest.raises(NonFiniteLoss, match=r"model.1.running_var is not finite.*last good "
                                            r"checkpoint is kept .*\(step 10\)"):
        trainer.fit()
    assert (tmp_path / "ckpt" / "model.safetensors").read_bytes() == good
    state = ckpt.load_checkpoint(tmp_path / "ckpt", torch.nn.Sequential(
        torch.nn.Linear(2, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
        torch.nn.Linear(16, 3)))
    assert ckpt.first_nonfinite(state) is None and state["step"] == 10


def test_state_file_loads_with_weights_only_and_resume_restores_numpy_rng(tmp_path):
    np.random.seed(123)
    trainer = _trainer(TrainSettings(max_epochs=2, show_progress=False), tmp_path)
    trainer.fit()
    expected = np.random.random(3)
    state = torch.load(tmp_path / "ckpt" / "state.pt", weights_only=True)
    assert state["step"] == 20
    np.random.seed(0)
    ckpt.set_rng_state(state["per_rank"][0]["rng"])
    assert np.array_equal(np.random.random(3), expected)


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device"),
    RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1024 vs 512"),
])
def test_a_full_disk_during_a_checkpoint_is_one_line_and_keeps_the_old_one(tmp_path,
                                                                           monkeypatch, error):
    trainer = _trainer(TrainSettings(max_epochs=1, show_progress=False), tmp_path)
    trainer.fit()
    good = (tmp_path / "ckpt" / "state.pt").read_bytes()

    def full_disk(*args, **kwargs):
        raise error

    monkeypatch.setattr(ckpt.torch, "save", full_disk)
    with pytest.raises(NeuralabError) as info:
        trainer.save()
    assert str(info.value) == (f"no space left on device while writing a checkpoint in "
                               f"{tmp_path}; the previous checkpoint is kept")
    assert (tmp_path / "ckpt" / "state.pt").read_bytes() == good
    assert not (tmp_path / "ckpt.tmp").exists()


def test_callback_state_survives_resume(tmp_path):
    plateau = AccuracyPlateau(0.0, evals=4)  # every evaluation counts
    trainer = _trainer(TrainSettings(max_epochs=2, show_progress=False), tmp_path,
                       callbacks=[plateau])
    trainer.fit()
    assert plateau.streak == 2
    again = AccuracyPlateau(0.0, evals=4)
    trainer2 = _trainer(TrainSettings(max_epochs=10, show_progress=False), tmp_path,
                        callbacks=[again])
    trainer2.fit(resume=True)
    assert again.reached and trainer2.step == 40  # 2 more evaluations after the resume


def test_one_line_per_evaluation_in_the_order_train_val_test():
    lines = []
    x, y = _blobs(60, seed=1)
    trainer = _trainer(TrainSettings(max_epochs=3, show_progress=False),
                       callbacks=[PrintEvaluations(lines.append)],
                       extra_eval={"test": TensorLoader(x, y, 30)})
    trainer.fit()
    assert len(lines) == 3
    first = lines[0]
    assert first.startswith("epoch 1/3 step 10/30 | train loss ")
    assert first.index("train loss") < first.index("val loss") < first.index("test loss")
    assert all("samples/s |" in line for line in lines)
    assert "ETA" in first and "ETA" not in lines[-1]


def test_show_progress_prints_evaluations_through_log():
    lines = []
    trainer = _trainer(TrainSettings(max_epochs=2), log=lines.append)
    trainer.fit()
    assert [line.split(" |")[0] for line in lines] == ["epoch 1/2 step 10/20",
                                                       "epoch 2/2 step 20/20"]


def _weights(trainer):
    return torch.cat([p.detach().flatten().float() for p in trainer.module.parameters()])


@pytest.mark.skipif(not __import__("neuralab.train.trainer", fromlist=["x"]).cpu_has_bf16(),
                    reason="this CPU has no bfloat16 instructions")
def test_bf16_autocast_trains_and_evaluates_in_bf16_and_auto_probes_without_side_effects():
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Dropout(0.2), torch.nn.ReLU(),
                                torch.nn.Linear(16, 3))
    bf16 = _trainer(TrainSettings(max_epochs=3, show_progress=False, precision="bf16"),
                    model=model)
    history = bf16.fit()
    assert bf16.precision == "bf16" and history[-1]["val_accuracy"] >= 0.95
    with bf16.autocast():
        assert bf16.module(torch.zeros(1, 2)).dtype == torch.bfloat16
    auto = _trainer(TrainSettings(max_epochs=3, show_progress=False, precision="auto"),
                    model=copy_of(model))
    auto.fit()
    assert auto.precision in ("fp32", "bf16")
    assert set(auto.precision_probe) == {"bf16_supported", "fp32_ms", "bf16_ms"}
    # the probe restores the RNG (dropout draws): the run equals one in the chosen precision
    same = _trainer(TrainSettings(max_epochs=3, show_progress=False, precision=auto.precision),
                    model=copy_of(model))
    same.fit()
    assert torch.equal(_weights(auto), _weights(same))


def copy_of(model):
    import copy

    torch.manual_seed(0)
    fresh = copy.deepcopy(model)
    for layer in fresh:
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    return fresh


def test_auto_precision_is_fp32_without_bf16_instructions(monkeypatch):
    import neuralab.train.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "cpu_has_bf16", lambda: False)
    auto = _trainer(TrainSettings(max_epochs=2, show_progress=False, precision="auto"))
    auto.fit()
    fp32 = _trainer(TrainSettings(max_epochs=2, show_progress=False))
    fp32.fit()
    assert auto.precision == "fp32" and auto.precision_probe == {"bf16_supported": False}
    assert torch.equal(_weights(auto), _weights(fp32))
    with pytest.raises(NeuralabError, match="needs a CPU with bfloat16"):
        _trainer(TrainSettings(max_epochs=1, show_progress=False, precision="bf16"))
    with pytest.raises(NeuralabError, match="unknown precision 'fp8'"):
        _trainer(TrainSettings(max_epochs=1, show_progress=False, precision="fp8"))
