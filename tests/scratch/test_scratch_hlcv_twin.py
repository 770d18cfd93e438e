"""The HLCV exercise-2 two-layer network in NumPy and in PyTorch must agree step by step.

Architecture (HLCV exercise 2): ``x (4) -> Linear -> ReLU (10 hidden) -> Linear (3 classes)``
on the handout's toy problem (5 inputs of 4 dimensions, ``X = 10 * randn``, labels
``[0, 1, 2, 2, 1]``, weights ``N(0, 0.1^2)``, zero biases).

Losses. The HLCV exercise-2 notebook we could consult (2023) trains it with softmax +
cross-entropy averaged over the N samples plus ``lambda (||W1||^2 + ||W2||^2)``; the
per-class binary cross-entropy ``J = sum_k -y_k log u_k - (1 - y_k) log(1 - u_k)`` with
``u = sigmoid(z)``, averaged over the batch, is checked as well. The L2 term is applied by
the optimiser in both frameworks: its gradient ``2 lambda W`` is SGD weight decay
``2 lambda`` on the weights only.

For each of 3 SGD steps: the data loss, every gradient and (after the update) every
parameter agree to 1e-6 in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuralab.scratch import MLP, SGD, BinaryCrossEntropy, SoftmaxCrossEntropy

LAMBDA, LR = 0.05, 0.1


class TorchTwoLayerNet(torch.nn.Module):
    def __init__(self, model: MLP):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 10).double()
        self.fc2 = torch.nn.Linear(10, 3).double()
        with torch.no_grad():
            for fc, i in ((self.fc1, 0), (self.fc2, 2)):
                fc.weight.copy_(torch.from_numpy(model.params[f"{i}.weight"]))
                fc.bias.copy_(torch.from_numpy(model.params[f"{i}.bias"]))

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))

    def named(self):
        return {"0.weight": self.fc1.weight, "0.bias": self.fc1.bias,
                "2.weight": self.fc2.weight, "2.bias": self.fc2.bias}


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("loss_name", ["softmax_ce", "bce_sigmoid"])
def test_numpy_and_torch_agree_for_three_sgd_steps(loss_name, momentum):
    rng = np.random.default_rng(0)
    x = 10 * rng.standard_normal((5, 4))
    y = np.array([0, 1, 2, 2, 1])
    model = MLP(4, [10], 3, activation="relu", init="normal", init_std=0.1,
                dtype=np.float64, rng=rng)
    twin = TorchTwoLayerNet(model)
    params = twin.named()
    topt = torch.optim.SGD([
        {"params": [params["0.weight"], params["2.weight"]], "weight_decay": 2 * LAMBDA},
        {"params": [params["0.bias"], params["2.bias"]], "weight_decay": 0.0},
    ], lr=LR, momentum=momentum)
    opt = SGD(model, lr=LR, momentum=momentum, weight_decay=2 * LAMBDA)

    if loss_name == "softmax_ce":
        loss_fn = SoftmaxCrossEntropy()

        def torch_loss(scores):
            return F.cross_entropy(scores, torch.from_numpy(y))
    else:
        loss_fn = BinaryCrossEntropy(activation="sigmoid", reduction="mean")

        def torch_loss(scores):
            target = torch.from_numpy(np.eye(3)[y])
            return F.binary_cross_entropy_with_logits(scores, target, reduction="sum") / 5

    tx = torch.from_numpy(x)
    for step in range(3):
        loss = loss_fn.forward(model.forward(x), y)
        model.backward(loss_fn.backward())
        topt.zero_grad()
        tloss = torch_loss(twin(tx))
        tloss.backward()
        assert loss == pytest.approx(tloss.item(), abs=1e-6), step
        for name, p in params.items():
            np.testing.assert_allclose(model.grads[name], p.grad.numpy(), atol=1e-6, rtol=0,
                                       err_msg=f"step {step} grad {name}")
        opt.step()
        topt.step()
        for name, p in params.items():
            np.testing.assert_allclose(model.params[name], p.detach().numpy(), atol=1e-6,
                                       rtol=0, err_msg=f"step {step} param {name}")
    assert loss > 0
