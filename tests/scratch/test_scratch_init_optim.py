"""Initialisers (variance, seeding, dtype) and the SGD update rule."""

from __future__ import annotations

import numpy as np
import pytest

from neuralab.errors import NeuralabError
from neuralab.scratch import MLP, SGD, Conv2d, Linear, he_normal, normal, xavier_uniform
from neuralab.scratch.init import fans, get_initializer


@pytest.mark.parametrize("n_in, n_out", [(300, 100), (64, 512)])
def test_xavier_uniform_variance_and_bounds(n_in, n_out):
    w = xavier_uniform((n_out, n_in), rng=0, dtype=np.float64)
    var = 2.0 / (n_in + n_out)
    bound = np.sqrt(6.0 / (n_in + n_out))
    assert w.shape == (n_out, n_in) and np.abs(w).max() <= bound
    # Sample variance of n iid U[-a, a] draws has std ~ var * sqrt(4/5 / n): allow 5 sigma.
    tol = 5 * var * np.sqrt(0.8 / w.size)
    assert abs(w.var() - var) < tol
    assert abs(w.mean()) < 5 * np.sqrt(var / w.size)


def test_he_normal_variance_and_conv_fans():
    assert fans((32, 3, 5, 5)) == (75, 800)
    w = he_normal((256, 64, 3, 3), rng=1, dtype=np.float64)
    var = 2.0 / (64 * 9)
    assert abs(w.var() - var) < 5 * var * np.sqrt(2 / w.size)


def test_normal_init_std_is_a_standard_deviation():
    # UvA practical 1: "normal distribution with mean = 0 and std = 0.0001".
    w = normal((500, 400), rng=2, dtype=np.float64)
    assert abs(w.std() - 1e-4) < 1e-4 * 0.01
    layer = Linear(400, 500, init="normal", init_std=0.1, dtype=np.float64, rng=2)
    assert abs(layer.params["weight"].std() - 0.1) < 0.001


def test_seeded_and_dtype_kept():
    a = MLP(10, [7], 3, rng=5)
    b = MLP(10, [7], 3, rng=np.random.default_rng(5))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
        assert a.params[k].dtype == np.float32
    c = Conv2d(3, 4, 3, dtype=np.float64, init="he", rng=0)
    assert c.params["weight"].dtype == np.float64 and not c.params["bias"].any()
    with pytest.raises(NeuralabError):
        get_initializer("orthogonal")
    with pytest.raises(NeuralabError):
        Linear(2, 2, dtype=np.int32)


class Holder:
    """The smallest thing SGD accepts: params and grads dicts."""

    def __init__(self, **params):
        self.params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}


def test_sgd_momentum_matches_hw5_formula_by_hand():
    # hw5: M = 0.9 M - lr * grad; W = W + M, with M starting at 0.
    h = Holder(weight=[1.0, -2.0])
    opt = SGD(h, lr=0.1, momentum=0.9)
    h.grads["weight"][:] = [0.5, 1.0]
    opt.step()      # M = [-0.05, -0.1]              W = [0.95, -2.1]
    np.testing.assert_allclose(h.params["weight"], [0.95, -2.1])
    h.grads["weight"][:] = [0.2, -1.0]
    opt.step()      # M = 0.9*[-0.05, -0.1] - 0.1*[0.2, -1.0] = [-0.065, 0.01]
    np.testing.assert_allclose(opt.velocity[0], [-0.065, 0.01])
    np.testing.assert_allclose(h.params["weight"], [0.885, -2.09])


def test_sgd_plain_and_weight_decay_on_weights_only():
    h = Holder(weight=[2.0], bias=[2.0])
    opt = SGD(h, lr=0.5, weight_decay=0.1)
    h.grads["weight"][:] = 1.0
    h.grads["bias"][:] = 1.0
    opt.step()
    # weight: 2 - 0.5 * (1 + 0.1 * 2) = 1.4; bias is not decayed: 2 - 0.5 * 1 = 1.5
    np.testing.assert_allclose(h.params["weight"], [1.4])
    np.testing.assert_allclose(h.params["bias"], [1.5])


def test_sgd_updates_in_place_and_keeps_float32():
    model = MLP(4, [3], 2, rng=0)
    w = model.params["0.weight"]
    opt = SGD(model, lr=0.1, momentum=0.9, weight_decay=1e-3)
    for g in model.grads.values():
        g[...] = 1
    opt.step()
    assert model.params["0.weight"] is w and w.dtype == np.float32
    assert all(m.dtype == np.float32 for m in opt.velocity)
    with pytest.raises(NeuralabError):
        SGD(model, lr=-1)
