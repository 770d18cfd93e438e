"""Numerical gradient checks of every module, loss and model of the NumPy engine."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuralab.scratch import (
    ELU,
    MLP,
    Autoencoder,
    BinaryCrossEntropy,
    Conv2d,
    CrossEntropy,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    SquaredError,
    Tanh,
    check_all,
    format_table,
    gradcheck,
    softmax,
)

F64 = np.float64
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)
MODELS = ("MLP", "HLCV", "Autoencoder", "CNN")


def assert_exact(rows, tol=1e-7):
    """Every tensor passes, and even the element-wise (CS231n) error is below ``tol``."""
    for r in rows:
        assert r["passed"], r
        assert r["rel_error"] < tol, r
        assert r["max_elem_error"] < tol, r


def away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 1.5, size=shape)


def test_check_all_float64_passes_with_every_module_below_1e7():
    rows = check_all(F64)
    names = {r["name"] for r in rows}
    for expected in ("Linear", "ELU", "ReLU", "Sigmoid", "Tanh", "Softmax", "Flatten",
                     "CrossEntropy", "SquaredError", "Autoencoder+SquaredError"):
        assert any(n.startswith(expected) for n in names), expected
    assert all(r["passed"] for r in rows), format_table(rows)
    assert max(r["rel_error"] for r in rows) < 1e-7
    single = [r for r in rows if not r["name"].startswith(MODELS)]
    assert max(r["max_elem_error"] for r in single) < 1e-7


def test_check_all_float32_and_table():
    rows = check_all(np.float32)
    assert all(r["passed"] for r in rows), format_table(rows)
    table = format_table(rows)
    assert "rel. error" in table and "all passed" in table.splitlines()[-1]
    assert set(rows[0]) >= {"name", "tensor", "rel_error", "passed"}


def test_gradcheck_catches_a_wrong_backward():
    class BrokenLinear(Linear):
        def backward(self, dout, need_input_grad=True):
            dx = super().backward(dout, need_input_grad)
            self.grads["bias"] *= 1.001  # 0.1 % off
            return dx

    rng = np.random.default_rng(0)
    rows = gradcheck(BrokenLinear(4, 3, dtype=F64, rng=0), rng.standard_normal((5, 4)))
    by = {r["tensor"]: r for r in rows}
    assert not by["bias"]["passed"] and by["weight"]["passed"] and by["input"]["passed"]


def test_gradcheck_skips_kinks_instead_of_failing():
    x = np.array([[1e-5, -3e-5, 0.5, -0.5]])  # two inputs within 2h of ReLU's kink
    (row,) = gradcheck(ReLU(), x)
    assert row["skipped"] == 2 and row["checked"] == 2 and row["passed"]


def test_gradcheck_leaves_parameters_and_inputs_unchanged():
    rng = np.random.default_rng(1)
    model = MLP(3, [4], 2, dtype=F64, rng=1)
    before = {k: v.copy() for k, v in model.params.items()}
    x = rng.standard_normal((2, 3))
    x0 = x.copy()
    gradcheck(model, x, np.array([0, 1]), SoftmaxCrossEntropy())
    assert all(np.array_equal(before[k], model.params[k]) for k in before)
    assert np.array_equal(x, x0)


@SETTINGS
@given(s=st.integers(1, 6), m=st.integers(1, 7), n=st.integers(1, 6), seed=st.integers(0, 99))
def test_linear_random_shapes(s, m, n, seed):
    rng = np.random.default_rng(seed)
    assert_exact(gradcheck(Linear(m, n, dtype=F64, rng=rng), rng.standard_normal((s, m)),
                           seed=seed))


@SETTINGS
@given(act=st.sampled_from([ELU, ReLU, Sigmoid, Tanh, Softmax, Flatten]),
       shape=st.tuples(st.integers(1, 5), st.integers(1, 6)), seed=st.integers(0, 99))
def test_activations_random_shapes(act, shape, seed):
    rng = np.random.default_rng(seed)
    assert_exact(gradcheck(act(), away_from_zero(rng, shape), seed=seed))


@SETTINGS
@given(n=st.integers(1, 3), c=st.integers(1, 3), f=st.integers(1, 3), h=st.integers(3, 7),
       w=st.integers(3, 7), kh=st.integers(1, 3), kw=st.integers(1, 3), stride=st.integers(1, 3),
       padding=st.integers(0, 2), seed=st.integers(0, 99))
def test_conv2d_random_shapes(n, c, f, h, w, kh, kw, stride, padding, seed):
    rng = np.random.default_rng(seed)
    conv = Conv2d(c, f, (kh, kw), stride=stride, padding=padding, dtype=F64, rng=rng)
    assert_exact(gradcheck(conv, rng.standard_normal((n, c, h, w)), seed=seed))


@SETTINGS
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 7), w=st.integers(2, 7),
       k=st.integers(1, 3), stride=st.integers(1, 3), pad=st.integers(0, 1),
       seed=st.integers(0, 99))
def test_maxpool_random_shapes(n, c, h, w, k, stride, pad, seed):
    pad = min(pad, k // 2)
    if h + 2 * pad < k or w + 2 * pad < k:
        return
    rng = np.random.default_rng(seed)
    size = n * c * h * w
    x = (rng.permutation(size) * 0.05).reshape(n, c, h, w)  # no ties
    assert_exact(gradcheck(MaxPool2d(k, stride=stride, padding=pad), x, seed=seed))


@SETTINGS
@given(s=st.integers(1, 6), k=st.integers(2, 5), one_hot=st.booleans(), seed=st.integers(0, 99))
def test_losses_random_shapes(s, k, one_hot, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, size=s)
    targets = np.eye(k)[labels] if one_hot else labels
    z = rng.standard_normal((s, k)) * 2
    assert_exact(gradcheck(SoftmaxCrossEntropy(), z, targets))
    assert_exact(gradcheck(CrossEntropy(), softmax(z), targets))
    for act in ("sigmoid", "softmax"):
        for red in ("mean", "sum"):
            assert_exact(gradcheck(BinaryCrossEntropy(act, red), z, targets))
    y = rng.uniform(size=(s, k))
    for red in ("mean", "sum"):
        assert_exact(gradcheck(SquaredError(red), rng.uniform(size=(s, k)), y))


@SETTINGS
@given(n_in=st.integers(1, 6), hidden=st.lists(st.integers(1, 6), max_size=3),
       n_out=st.integers(2, 4), act=st.sampled_from(["elu", "relu", "sigmoid", "tanh"]),
       s=st.integers(1, 4), seed=st.integers(0, 99))
def test_mlp_random_shapes_through_the_loss(n_in, hidden, n_out, act, s, seed):
    rng = np.random.default_rng(seed)
    model = MLP(n_in, hidden, n_out, activation=act, dtype=F64, rng=rng)
    rows = gradcheck(model, rng.standard_normal((s, n_in)), rng.integers(0, n_out, s),
                     SoftmaxCrossEntropy(), seed=seed)
    assert len(rows) == 2 * (len(hidden) + 1) + 1
    for r in rows:
        assert r["passed"] and r["rel_error"] < 1e-7, r


@pytest.mark.parametrize("seed", [0, 1])
def test_autoencoder_through_squared_error(seed):
    rng = np.random.default_rng(seed)
    model = Autoencoder(dtype=F64, rng=rng)
    x = rng.uniform(size=(2, 1024))
    # Targets near the reconstructions keep the summed error, and so the digits that the
    # finite differences lose to cancellation, small.
    targets = model.forward(x) + 0.05 * rng.standard_normal(x.shape)
    rows = gradcheck(model, x, targets, SquaredError(), max_checks=10, seed=seed)
    assert [r["tensor"] for r in rows][-1] == "input" and len(rows) == 9
    for r in rows:
        assert r["passed"] and r["rel_error"] < 1e-7, r


def test_small_cnn_through_the_loss():
    rng = np.random.default_rng(3)
    net = Sequential(Conv2d(2, 4, 3, padding=1, dtype=F64, rng=rng), ReLU(), MaxPool2d(2),
                     Conv2d(4, 3, 2, stride=2, dtype=F64, rng=rng), Tanh(), Flatten(),
                     Linear(12, 2, dtype=F64, rng=rng))
    rows = gradcheck(net, rng.standard_normal((3, 2, 8, 8)), rng.integers(0, 2, 3),
                     SoftmaxCrossEntropy())
    for r in rows:
        assert r["passed"] and r["rel_error"] < 1e-7, r
