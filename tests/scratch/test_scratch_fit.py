"""The one NumPy training loop, ``neuralab.scratch.fit``: rows, cadence, RNG order, hooks,
divergence; and float64 end to end (activations on integers, finite differences)."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import neuralab.scratch.training as training
from neuralab.errors import NeuralabError
from neuralab.scratch import (
    MLP,
    SGD,
    Autoencoder,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    SoftmaxCrossEntropy,
    SquaredError,
    TrainingDiverged,
    batch_stream,
    evaluate,
    fit,
    gradcheck,
    lr_at,
    sigmoid,
    softmax,
    train_step,
)
from neuralab.scratch.layers import ELU, Tanh
from neuralab.scratch.training import check_divergence, every_epochs


def _problem(n=10, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, k, n)
    return x, y


def _model(seed=0, d=4, k=3):
    rng = np.random.default_rng(seed)
    return MLP(d, [5], k, activation="relu", init="he", rng=rng), rng


def test_rows_cadence_and_train_means_match_a_hand_written_loop():
    x, y = _problem()
    model, rng = _model()
    twin = copy.deepcopy(model)
    twin_rng = copy.deepcopy(rng)
    loss_fn = SoftmaxCrossEntropy()
    run = fit(model, loss_fn, SGD(model, lr=0.1), x, y, batch_size=4, rng=rng, epochs=2,
              eval_sets={"val": (x, y)}, eval_per_epoch=True, eval_at_start=True)
    # 10 samples in batches of 4: 3 steps per epoch (4, 4, 2); rows at 0 and each epoch end
    assert [r["step"] for r in run.history] == [0, 3, 6]
    assert [r["epoch"] for r in run.history] == [0, 1, 2]
    assert list(run.history[1]) == ["step", "epoch", "lr", "train_loss", "train_accuracy",
                                    "val_loss", "val_accuracy"]
    assert run.history[0]["train_loss"] is None and run.steps == 6

    # the same steps by hand: same batches (one permutation per epoch from the same rng)
    opt = SGD(twin, lr=0.1)
    stream = batch_stream(10, 4, twin_rng)
    for row in run.history[1:]:
        loss_sum = hits = 0.0
        for _ in range(3):
            _, idx = next(stream)
            hits += np.count_nonzero(twin.forward(x[idx]).argmax(1) == y[idx])
            loss_sum += train_step(twin, loss_fn, opt, x[idx], y[idx]) * len(idx)
        assert row["train_loss"] == pytest.approx(loss_sum / 10, rel=1e-6)
        assert row["train_accuracy"] == hits / 10
    for name, p in model.params.items():
        np.testing.assert_array_equal(p, twin.params[name], err_msg=name)
    final = evaluate(model, loss_fn, x, y)
    assert run.last["val_loss"] == final["loss"] and run.last["val_accuracy"] == final["accuracy"]
    np.testing.assert_array_equal(run.evals["val"]["pred"], final["pred"])


def test_train_mean_batch_averages_the_batch_losses():
    """UvA/HLCV curves: the mean of the batch losses (a smaller last batch counts fully)."""
    x, y = _problem()
    model, rng = _model()
    twin, twin_rng = copy.deepcopy(model), copy.deepcopy(rng)
    loss_fn = SoftmaxCrossEntropy()
    run = fit(model, loss_fn, SGD(model, lr=0.1), x, y, batch_size=4, rng=rng, epochs=1,
              train_mean="batch")
    opt, stream = SGD(twin, lr=0.1), batch_stream(10, 4, twin_rng)
    losses = [train_step(twin, loss_fn, opt, x[idx], y[idx])
              for idx in (next(stream)[1] for _ in range(3))]
    assert run.last["train_loss"] == sum(losses) / 3
    assert run.last["train_loss"] != pytest.approx((4 * losses[0] + 4 * losses[1]
                                                    + 2 * losses[2]) / 10, rel=1e-9)


def test_eval_every_steps_and_the_last_step_always_gives_a_row():
    x, y = _problem(n=20)
    model, rng = _model()
    run = fit(model, SoftmaxCrossEntropy(), SGD(model, lr=0.05), x, y, batch_size=5, rng=rng,
              steps=11, eval_every=4, eval_sets={"test": (x, y)})
    assert [r["step"] for r in run.history] == [4, 8, 11]
    assert [r["epoch"] for r in run.history] == [1, 2, 2.75]


def test_learning_rate_schedule_and_hw5_summed_loss():
    x, y = _problem(n=10)
    model, rng = _model()
    opt = SGD(model, lr=1.0)
    seen = []

    def on_step(*, step, epoch, x, y, loss, lr):
        seen.append((step, epoch, len(x), lr, opt.lr))

    fit(model, SoftmaxCrossEntropy(), opt, x, y, batch_size=4, rng=rng, epochs=2,
        lr=lambda step, epoch: 0.01 * 0.5 ** epoch, lr_for_summed_loss=True, on_step=on_step)
    # the optimiser gets lr * len(batch) (hw5's summed loss), the rows and hooks get lr
    assert [s[:3] for s in seen] == [(1, 0, 4), (2, 0, 4), (3, 0, 2), (4, 1, 4), (5, 1, 4),
                                     (6, 1, 2)]
    assert [s[3] for s in seen] == [0.01] * 3 + [0.005] * 3
    assert [s[4] for s in seen] == pytest.approx([0.04, 0.04, 0.02, 0.02, 0.02, 0.01])
    assert lr_at("cosine", 0.1, 4, 100, warmup=10) == pytest.approx(0.05)
    decay = every_epochs(3e-5, 0.9, 20)
    assert decay(0, 19) == 3e-5 and decay(0, 20) == 3e-5 * 0.9
    assert decay(0, 45) == 3e-5 * 0.9 * 0.9 and every_epochs(1.0, 0.5, 0)(0, 99) == 1.0


def test_batch_transform_draws_after_the_epoch_permutation():
    """Augmentation draws from the same generator, after that epoch's permutation: the RNG
    order every NumPy experiment (and its committed figure) depends on."""
    x, y = _problem(n=8)
    model, rng = _model()
    twin_rng = copy.deepcopy(rng)
    draws = []

    def transform(xb, idx, gen):
        draws.append(gen.random())
        return xb

    fit(model, SoftmaxCrossEntropy(), SGD(model, lr=0.1), x, y, batch_size=4, rng=rng,
        epochs=2, batch_transform=transform)
    expected = []
    for _ in range(2):
        twin_rng.permutation(8)
        expected += [twin_rng.random(), twin_rng.random()]
    assert draws == expected


def test_on_eval_columns_eval_when_and_log_lines_in_order():
    x, y = _problem(n=12)
    model, rng = _model()
    lines = []
    run = fit(model, SoftmaxCrossEntropy(), SGD(model, lr=0.1), x, y, batch_size=4, rng=rng,
              epochs=3, eval_per_epoch=True, eval_sets={"val": (x, y), "test": (x, y)},
              eval_when=lambda step, epoch: epoch != 2,
              on_eval=lambda row: {"extra": row["step"] * 2}, log=lines.append, desc="toy")
    assert [r["extra"] for r in run.history] == [6, 12, 18]
    assert "val_loss" not in run.history[1] and "test_accuracy" in run.history[2]
    assert len(lines) == 3 and lines[0].startswith("toy: step 3/9 (epoch 1)")
    first = lines[0]
    assert first.index("train loss") < first.index("val loss") < first.index("test loss")
    assert "samples/s" in first and "ETA" in first and "lr 0.1" in first


def test_autoencoder_rows_have_no_accuracy_and_val_loss_per_image():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(9, 16)).astype(np.float32)
    model = Autoencoder(16, [4], rng=rng)
    loss_fn = SquaredError(reduction="sum")
    run = fit(model, loss_fn, SGD(model, lr=1e-3, momentum=0.9), x, None, batch_size=4,
              rng=rng, epochs=1, eval_sets={"val": (x, None)})
    row = run.last
    assert "train_accuracy" not in row and "val_accuracy" not in row
    assert row["val_loss"] == pytest.approx(loss_fn.forward(model.forward(x), x) / 9,
                                            rel=1e-6)


def test_autoencoder_train_loss_is_the_summed_loss_per_image():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(9, 16)).astype(np.float32)
    model = Autoencoder(16, [4], rng=rng)
    twin, twin_rng = copy.deepcopy(model), copy.deepcopy(rng)
    loss_fn = SquaredError(reduction="sum")
    run = fit(model, loss_fn, SGD(model, lr=1e-3), x, None, batch_size=4, rng=rng, epochs=1)
    opt, stream, total = SGD(twin, lr=1e-3), batch_stream(9, 4, twin_rng), 0.0
    for _ in range(3):
        _, idx = next(stream)
        total += train_step(twin, loss_fn, opt, x[idx], x[idx])
    assert run.last["train_loss"] == pytest.approx(total / 9, rel=1e-6)


def test_divergence_raises_one_line_without_numpy_warnings():
    x, y = _problem(n=32)
    x *= 100
    model, rng = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning would fail the test
        with pytest.raises(TrainingDiverged) as info:
            fit(model, SoftmaxCrossEntropy(), SGD(model, lr=1e6), x, y, batch_size=8, rng=rng,
                epochs=50)
    message = str(info.value)
    assert isinstance(info.value, NeuralabError) and "\n" not in message
    assert message.startswith("training diverged at step ")
    assert message.endswith("; lower learning_rate")


def test_divergence_stop_ends_the_run_with_a_row_of_nans():
    x, y = _problem(n=32)
    x *= 100
    model, rng = _model()
    lines = []
    run = fit(model, SoftmaxCrossEntropy(), SGD(model, lr=1e6), x, y, batch_size=8, rng=rng,
              epochs=50, eval_sets={"val": (x, y)}, eval_per_epoch=True, on_diverge="stop",
              log=lines.append)
    assert run.diverged and run.diverged in lines and run.steps < 200
    assert np.isnan(run.last["train_loss"]) and np.isnan(run.last["val_accuracy"])


def test_divergence_rule():
    assert check_divergence(float("nan"), 2.3) == "loss nan"
    assert check_divergence(float("inf"), None) == "loss inf"
    assert check_divergence(2.3e3, 2.3) is None  # 1000x is still allowed
    assert "over 1000x the first batch's 2.3" in check_divergence(2.4e3, 2.3)
    assert check_divergence(5.0, 0.0) is None  # no ratio against a zero first loss
    assert check_divergence(50.0, 2.0, explode=10) is not None


def test_fit_refuses_bad_arguments():
    x, y = _problem()
    model, rng = _model()
    opt = SGD(model, lr=0.1)
    with pytest.raises(NeuralabError, match="steps >= 1 or epochs >= 1"):
        fit(model, SoftmaxCrossEntropy(), opt, x, y, batch_size=4, rng=rng)
    with pytest.raises(NeuralabError, match="x has 10 samples but y has 3"):
        fit(model, SoftmaxCrossEntropy(), opt, x, y[:3], batch_size=4, rng=rng, steps=1)
    with pytest.raises(NeuralabError, match="on_diverge"):
        fit(model, SoftmaxCrossEntropy(), opt, x, y, batch_size=4, rng=rng, steps=1,
            on_diverge="ignore")


# --------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("act", [ReLU(), ELU(), Sigmoid(), Tanh()])
def test_activations_on_integers_return_floats(act):
    out = act.forward(np.array([0, 1, -1]))
    assert out.dtype == np.float64
    expected = {"ReLU": [0, 1, 0], "ELU": [0, 1, np.expm1(-1)],
                "Sigmoid": [0.5, 1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))],
                "Tanh": np.tanh([0, 1, -1])}[type(act).__name__]
    np.testing.assert_allclose(out, expected)


def test_functional_sigmoid_and_softmax_on_integers():
    np.testing.assert_allclose(sigmoid(np.array([0, 1, -1])),
                               [0.5, 0.7310585786, 0.2689414214])
    np.testing.assert_allclose(softmax(np.array([[0, 0]])), [[0.5, 0.5]])
    assert sigmoid(np.array([1.0], np.float32)).dtype == np.float32


def test_float64_end_to_end_matches_finite_differences():
    """A float64 Linear + ReLU + Linear model with softmax cross-entropy: every parameter's
    and the input's analytic gradient matches central differences to ~1e-7 relative."""
    rng = np.random.default_rng(0)
    model = Sequential(Linear(5, 7, dtype=np.float64, rng=rng), ReLU(),
                       Linear(7, 3, dtype=np.float64, rng=rng))
    x = rng.standard_normal((4, 5))
    y = np.array([0, 2, 1, 2])
    loss_fn = SoftmaxCrossEntropy()
    loss_fn.forward(model.forward(x), y)
    dx = model.backward(loss_fn.backward())
    assert dx.dtype == np.float64 and all(g.dtype == np.float64 for g in model.grads.values())

    def numeric(arr, h=1e-6):
        g = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + h
            plus = loss_fn.forward(model.forward(x), y)
            arr[i] = old - h
            minus = loss_fn.forward(model.forward(x), y)
            arr[i] = old
            g[i] = (plus - minus) / (2 * h)
        return g

    analytic = {k: g.copy() for k, g in model.grads.items()}
    for name, p in model.params.items():
        num = numeric(p)
        rel = np.abs(num - analytic[name]).max() / max(np.abs(num).max(), 1e-12)
        assert rel < 1e-7, (name, rel)
    num_x = numeric(x)
    assert np.abs(num_x - dx).max() / np.abs(num_x).max() < 1e-7
    rows = gradcheck(model, x, y, SoftmaxCrossEntropy(), max_checks=100)
    assert all(r["passed"] and r["rel_error"] < 1e-7 for r in rows), rows


def test_float64_input_gradient_of_a_float32_model_is_not_rounded():
    """Float64 data into a default (float32) model: the input gradient is exact to float64
    rounding for the float32 weights (no silent cast of the data to float32)."""
    rng = np.random.default_rng(1)
    layer = Linear(4, 3, rng=rng)
    x = rng.standard_normal((2, 4))
    g = rng.standard_normal((2, 3))
    out = layer.forward(x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, x @ layer.params["weight"].astype(np.float64).T,
                               rtol=1e-14)
    dx = layer.backward(g)
    np.testing.assert_allclose(dx, g @ layer.params["weight"].astype(np.float64), rtol=1e-14)
    # gradcheck takes the float64 twin for numerical gradients, float32 tolerance
    rows = gradcheck(layer, x)
    assert all(r["passed"] for r in rows), rows


# --------------------------------------------------------------------------- resume


def _resumable_run(tmp_path, steps, resume, momentum=0.9, flip=True):
    x, y = _problem(n=23, d=6, k=4, seed=3)
    model, rng = _model(seed=5, d=6, k=4)
    opt = SGD(model, lr=0.05, momentum=momentum, weight_decay=1e-3)

    def transform(xb, idx, gen):  # draws from the generator every step, like the flips
        return xb * np.where(gen.random(len(xb)) < 0.5, -1.0, 1.0)[:, None].astype(xb.dtype)

    run = fit(model, SoftmaxCrossEntropy(), opt, x, y, batch_size=5, rng=rng, steps=steps,
              lr=lambda s, e: lr_at("cosine", 0.05, s, 40, 3), eval_every=7,
              eval_at_start=True, eval_sets={"val": (x, y)},
              batch_transform=transform if flip else None,
              checkpoint=tmp_path / "fit.npz", resume=resume)
    return model, run


def test_resume_equals_an_uninterrupted_run(tmp_path):
    whole, run = _resumable_run(tmp_path / "a", 40, resume=False)

    class Interrupt(Exception):
        pass

    # every row rewrites the checkpoint: the last one is of step 40, with all 7 rows
    arrays, meta = training.load_checkpoint(tmp_path / "a" / "fit.npz")
    assert meta["step"] == 40 and len(meta["history"]) == 7  # rows 0, 7, ..., 35, 40
    assert {"param.0.weight", "opt.velocity.0.weight", "stream.order"} <= set(arrays)

    # interrupt a run in its fifth evaluation (step 28): the checkpoint is of step 21
    calls = []
    original = training.evaluate

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # rows 0, 7, 14, 21 evaluated; the row at 28 fails
            raise Interrupt
        return original(*args, **kwargs)

    training.evaluate = failing
    try:
        with pytest.raises(Interrupt):
            _resumable_run(tmp_path / "c", 40, resume=False)
    finally:
        training.evaluate = original
    assert training.load_checkpoint(tmp_path / "c" / "fit.npz")[1]["step"] == 21
    resumed, run2 = _resumable_run(tmp_path / "c", 40, resume=True)
    for name, p in whole.params.items():
        np.testing.assert_array_equal(p, resumed.params[name], err_msg=name)
    assert run2.history == run.history and run2.steps == 40
    np.testing.assert_array_equal(run2.evals["val"]["pred"], run.evals["val"]["pred"])
    # a finished run resumes to its end at once
    again, run3 = _resumable_run(tmp_path / "c", 40, resume=True)
    np.testing.assert_array_equal(again.params["0.weight"], whole.params["0.weight"])
    assert run3.history == run.history


def test_resume_without_a_checkpoint_starts_at_step_zero_and_a_wrong_one_is_refused(tmp_path):
    model, run = _resumable_run(tmp_path, 10, resume=True)
    assert run.steps == 10 and (tmp_path / "fit.npz").exists()
    with pytest.raises(NeuralabError, match="of a run of 10 steps, not 12"):
        _resumable_run(tmp_path, 12, resume=True)
