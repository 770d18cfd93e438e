"""Optimisers and learning-rate schedules by the names experiment configs use."""

import math

import pytest
import torch

from neuralab.errors import NeuralabError
from neuralab.train import make_optimizer, make_scheduler


def _lrs(schedule: str, steps: int = 100, lr: float = 0.1) -> list[float]:
    opt = make_optimizer("sgd", [torch.nn.Parameter(torch.zeros(2))], lr)
    sched = make_scheduler(schedule, opt, lr, steps)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_cosine_falls_from_lr_to_zero_along_half_a_cosine():
    lrs = _lrs("cosine")
    assert lrs[0] == pytest.approx(0.1) and lrs[50] == pytest.approx(0.05)
    assert lrs[-1] == pytest.approx(0.1 * (1 + math.cos(math.pi * 99 / 100)) / 2)
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_onecycle_warms_up_for_a_quarter_then_anneals():
    lrs = _lrs("onecycle")
    assert lrs[0] == pytest.approx(0.1 / 25)
    assert max(lrs) == pytest.approx(0.1, rel=1e-3) and lrs.index(max(lrs)) in (24, 25)
    assert lrs[-1] < 1e-4


def test_none_is_no_scheduler_and_a_typo_is_an_error():
    opt = make_optimizer("adam", [torch.nn.Parameter(torch.zeros(2))], 1e-3)
    assert make_scheduler("none", opt, 1e-3, 10) is None
    with pytest.raises(NeuralabError, match="unknown schedule 'cosin'"):
        make_scheduler("cosin", opt, 1e-3, 10)
    with pytest.raises(NeuralabError, match="unknown optimizer"):
        make_optimizer("adamm", [torch.nn.Parameter(torch.zeros(2))], 1e-3)
