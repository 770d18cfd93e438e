"""Models, layers against torch, dtype handling, and a real learning run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuralab.errors import NeuralabError
from neuralab.scratch import (
    ELU,
    MLP,
    SGD,
    Autoencoder,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    SoftmaxCrossEntropy,
    SquaredError,
    accuracy,
    fit,
    iterate_minibatches,
    predict,
    train_step,
)


def test_linear_and_elu_match_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4))
    layer, act = Linear(4, 3, dtype=np.float64, rng=0), ELU(alpha=0.7)
    layer.params["bias"][:] = rng.standard_normal(3)
    tx = torch.from_numpy(x).requires_grad_(True)
    tw = torch.from_numpy(layer.params["weight"].copy()).requires_grad_(True)
    tb = torch.from_numpy(layer.params["bias"].copy()).requires_grad_(True)
    ty = F.elu(F.linear(tx, tw, tb), alpha=0.7)
    y = act.forward(layer.forward(x))
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=1e-14)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(act.backward(g))
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-13)
    np.testing.assert_allclose(layer.grads["weight"], tw.grad.numpy(), atol=1e-13)
    np.testing.assert_allclose(layer.grads["bias"], tb.grad.numpy(), atol=1e-13)


@pytest.mark.parametrize("alpha", [0.3, 1.0, 1.7])
def test_elu_matches_torch_for_any_alpha_and_large_inputs(alpha):
    """Both branches of y = max(x, 0) + alpha expm1(min(x, 0)) and of its gradient, with
    alpha below, at and above 1, and inputs large enough that exp(x) would overflow."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(40) * 3, [0.0, -1e-9, 1e-9, 120.0, -120.0]])
    act = ELU(alpha=alpha)
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = F.elu(tx, alpha=alpha)
    with np.errstate(all="raise"):
        y = act.forward(x)
        g = rng.standard_normal(y.shape)
        dx = act.backward(g)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-15, atol=1e-15)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("alpha", [0.0, -0.5, float("nan")])
def test_elu_refuses_alpha_that_is_not_positive(alpha):
    with pytest.raises(NeuralabError, match="alpha > 0"):
        ELU(alpha=alpha)


@pytest.mark.parametrize("stride, padding", [(1, 2), (2, 1), (3, 0)])
def test_conv2d_and_maxpool_match_torch(stride, padding):
    rng = np.random.default_rng(stride)
    x = rng.standard_normal((2, 3, 9, 8))
    conv = Conv2d(3, 4, (5, 3), stride=stride, padding=padding, dtype=np.float64, rng=0)
    conv.params["bias"][:] = rng.standard_normal(4)
    pool = MaxPool2d(2, stride=1 if stride == 3 else 2)
    tx = torch.from_numpy(x).requires_grad_(True)
    tw = torch.from_numpy(conv.params["weight"].copy()).requires_grad_(True)
    tb = torch.from_numpy(conv.params["bias"].copy()).requires_grad_(True)
    ty = F.max_pool2d(F.conv2d(tx, tw, tb, stride=stride, padding=padding), 2,
                      stride=pool.stride)
    y = pool.forward(conv.forward(x))
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=1e-13)
    g = rng.standard_normal(y.shape)
    ty.backward(torch.from_numpy(g))
    dx = conv.backward(pool.backward(g))
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(conv.grads["weight"], tw.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(conv.grads["bias"], tb.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("activation", ["elu", "relu", "sigmoid", "tanh"])
def test_mlp_float32_stays_float32(activation):
    model = MLP(6, [5, 4], 3, activation=activation, dtype=np.float32, rng=0)
    assert len(model.layers) == 5 and [lin.out_features for lin in model.linears] == [5, 4, 3]
    x = np.random.default_rng(0).standard_normal((7, 6)).astype(np.float32)
    loss = SoftmaxCrossEntropy()
    scores = model.forward(x)
    assert scores.dtype == np.float32 and scores.shape == (7, 3)
    loss.forward(scores, np.zeros(7, int))
    dx = model.backward(loss.backward())
    assert dx.dtype == np.float32 and dx.shape == (7, 6)
    assert all(g.dtype == np.float32 for g in model.grads.values())
    assert model.backward(loss.backward(), need_input_grad=False) is None


@pytest.mark.parametrize("activation", ["elu", "relu", "sigmoid", "tanh"])
def test_float64_input_is_never_rounded_to_float32(activation):
    """The rule of neuralab.scratch.base: a float32 model computes float64 input in float64
    (outputs and input gradient); its parameters and their gradients stay float32."""
    model = MLP(6, [5, 4], 3, activation=activation, dtype=np.float32, rng=0)
    x = np.random.default_rng(0).standard_normal((7, 6))
    scores = model.forward(x)
    assert scores.dtype == np.float64
    loss = SoftmaxCrossEntropy()
    loss.forward(scores, np.zeros(7, int))
    assert model.backward(loss.backward()).dtype == np.float64
    assert all(g.dtype == np.float32 for g in model.grads.values())
    assert all(p.dtype == np.float32 for p in model.params.values())
    np.testing.assert_allclose(scores, model.forward(x.astype(np.float32)), rtol=1e-5,
                               atol=1e-6)


def test_backward_without_input_grad_stops_at_the_first_parametric_layer():
    class Spy(Flatten):
        calls = 0

        def backward(self, dout, need_input_grad=True):
            Spy.calls += 1
            return super().backward(dout, need_input_grad)

    net = Sequential(Spy(), Linear(12, 3, dtype=np.float64, rng=0), ReLU())
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    net.forward(x)
    assert net.backward(np.ones((2, 3)), need_input_grad=False) is None and Spy.calls == 0
    assert net.backward(np.ones((2, 3))).shape == x.shape and Spy.calls == 1
    w_grad = net.grads["1.weight"].copy()
    net.backward(np.ones((2, 3)), need_input_grad=False)
    np.testing.assert_array_equal(net.grads["1.weight"], w_grad)


def test_mlp_learns_xor_to_100_percent():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([0, 1, 1, 0])
    model = MLP(2, [8], 2, activation="tanh", dtype=np.float64, rng=0)
    loss_fn = SoftmaxCrossEntropy()
    opt = SGD(model, lr=0.2, momentum=0.9)
    first = train_step(model, loss_fn, opt, x, y)
    for _ in range(300):
        last = train_step(model, loss_fn, opt, x, y)
    assert accuracy(model.forward(x), y) == 1.0
    assert last < 0.05 < first
    np.testing.assert_array_equal(predict(model, x, batch_size=3), y)


def test_mlp_learns_a_separable_toy_set_with_minibatches():
    rng = np.random.default_rng(1)
    centres = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    y = rng.integers(0, 3, 300)
    x = (centres[y] + 0.3 * rng.standard_normal((300, 2))).astype(np.float32)  # separable
    model = MLP(2, [16], 3, activation="relu", init="he", rng=1)
    opt, loss_fn = SGD(model, lr=0.05, momentum=0.9), SoftmaxCrossEntropy()
    run = fit(model, loss_fn, opt, x, y, batch_size=32, rng=1, epochs=5,
              eval_sets={"full": (x, y)}, eval_per_epoch=True)
    assert [r["epoch"] for r in run.history] == [1, 2, 3, 4, 5]  # 10 batches per epoch
    assert run.last["full_accuracy"] == 1.0  # the whole set, after epoch 5
    assert accuracy(model.forward(x), np.eye(3)[y]) == 1.0
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]


def test_autoencoder_shape_range_and_one_step():
    ae = Autoencoder(rng=0)
    assert [lin.params["weight"].shape for lin in ae.layers[::2]] == [
        (32, 1024), (32, 32), (32, 32), (1024, 32)]
    x = np.random.default_rng(0).uniform(size=(36, 1024)).astype(np.float32)
    out = ae.forward(x)
    assert out.shape == x.shape and out.dtype == np.float32 and (0 < out).all()
    assert ae.encode(x).shape == (36, 32)
    opt, loss_fn = SGD(ae, lr=3e-5, momentum=0.9), SquaredError()
    losses = [train_step(ae, loss_fn, opt, x, x) for _ in range(20)]
    assert losses[-1] < losses[0]


def test_minibatches_cover_every_sample_once():
    x, y = np.arange(10)[:, None], np.arange(10)
    batches = list(iterate_minibatches(x, y, batch_size=4, rng=0))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate([b[1] for b in batches])) == list(range(10))
    assert [len(b[0]) for b in iterate_minibatches(x, None, 4, drop_last=True)] == [4, 4]
    with pytest.raises(NeuralabError):
        list(iterate_minibatches(x, y[:3]))
    with pytest.raises(NeuralabError):
        MLP(3, [2], 2, activation="swish")


def test_a_saved_network_is_rebuilt_by_name_with_its_weights(tmp_path):
    from neuralab.scratch.models import build, spec_of
    from neuralab.scratch.training import load_weights, save_weights

    model = MLP(12, [7, 5], 3, activation="tanh", rng=0)
    name, args = spec_of(model)
    save_weights(model, tmp_path / "model.npz", name=name, args=args)
    again = build(name, **args)
    meta = load_weights(again, tmp_path / "model.npz")
    assert meta == {"name": "mlp", "args": args}
    x = np.random.default_rng(1).normal(size=(4, 12)).astype(np.float32)
    np.testing.assert_array_equal(again(x), model(x))
    with pytest.raises(NeuralabError, match="do not fit this network"):
        load_weights(build("mlp", n_inputs=12, hidden_units=[8], n_classes=3),
                     tmp_path / "model.npz")
    with pytest.raises(NeuralabError, match="unknown NumPy network"):
        build("resnet")
