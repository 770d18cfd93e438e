"""Loss values against closed forms and torch; numerical stability."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuralab.errors import NeuralabError
from neuralab.scratch import (
    BinaryCrossEntropy,
    CrossEntropy,
    Softmax,
    SoftmaxCrossEntropy,
    SquaredError,
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_is_stable_for_huge_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0], [3e4, 3e4 - 1.0, -5e4], [-1e30, 1e30, 0.0]], dtype=dtype)
    y = np.array([1, 0, 1])
    loss = SoftmaxCrossEntropy()
    value = loss.forward(z, y)
    grad = loss.backward()
    assert np.isfinite(value) and np.all(np.isfinite(grad)) and grad.dtype == dtype
    # Row 0: -log softmax = 2e4; row 1: log(1 + e^-1); row 2: 0 (the label's logit wins).
    expected = (2e4 + np.log1p(np.exp(-1.0)) + 0.0) / 3
    assert value == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(grad.sum(axis=1), 0, atol=1e-6)


def test_labels_and_one_hot_agree_and_match_torch():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 4)) * 3
    y = rng.integers(0, 4, 6)
    a, b = SoftmaxCrossEntropy(), SoftmaxCrossEntropy()
    la, lb = a.forward(z, y), b.forward(z, np.eye(4)[y])
    ref = F.cross_entropy(torch.from_numpy(z), torch.from_numpy(y)).item()
    assert la == pytest.approx(ref, rel=1e-12) and lb == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(a.backward(), b.backward(), atol=1e-15)


def test_cross_entropy_on_softmax_equals_the_fused_loss():
    rng = np.random.default_rng(1)
    z, y = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    sm, ce, fused = Softmax(), CrossEntropy(), SoftmaxCrossEntropy()
    assert ce.forward(sm.forward(z), y) == pytest.approx(fused.forward(z, y), rel=1e-12)
    np.testing.assert_allclose(sm.backward(ce.backward()), fused.backward(), atol=1e-12)


def test_binary_cross_entropy_matches_the_formula_and_torch():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((4, 3)) * 4
    y = np.eye(3)[rng.integers(0, 3, 4)]
    u = 1 / (1 + np.exp(-z))
    per_sample = np.sum(-y * np.log(u) - (1 - y) * np.log(1 - u), axis=1)
    bce = BinaryCrossEntropy()
    assert bce.forward(z, y) == pytest.approx(per_sample.mean(), rel=1e-12)
    np.testing.assert_allclose(bce.backward(), (u - y) / 4, atol=1e-15)
    ref = F.binary_cross_entropy_with_logits(torch.from_numpy(z), torch.from_numpy(y),
                                             reduction="sum").item() / 4
    assert bce.forward(z, y) == pytest.approx(ref, rel=1e-12)
    assert BinaryCrossEntropy(reduction="sum").forward(z, y) == pytest.approx(
        per_sample.sum(), rel=1e-12)
    # Integer labels are one-hot encoded; large logits stay finite.
    assert bce.forward(z, y.argmax(1)) == pytest.approx(per_sample.mean(), rel=1e-12)
    assert np.isfinite(bce.forward(np.array([[800.0, -800.0]]), np.array([1])))


def test_binary_cross_entropy_on_softmax():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4, 3))
    y = np.eye(3)[rng.integers(0, 3, 4)]
    u = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    expected = np.mean(np.sum(-y * np.log(u) - (1 - y) * np.log(1 - u), axis=1))
    assert BinaryCrossEntropy("softmax").forward(z, y) == pytest.approx(expected, rel=1e-12)


def test_squared_error_is_a_sum_and_shapes_are_checked():
    x = np.array([[0.0, 1.0], [2.0, 3.0]])
    t = np.array([[1.0, 1.0], [0.0, 0.0]])
    se = SquaredError()
    assert se.forward(x, t) == 1 + 4 + 9
    np.testing.assert_array_equal(se.backward(), 2 * (x - t))
    assert SquaredError("mean").forward(x, t) == 7
    with pytest.raises(NeuralabError):
        se.forward(x, t[:1])
    with pytest.raises(NeuralabError):
        SoftmaxCrossEntropy().forward(x, np.ones((2, 3)))
    with pytest.raises(NeuralabError):
        SoftmaxCrossEntropy().forward(x, np.array([0, 2]))
