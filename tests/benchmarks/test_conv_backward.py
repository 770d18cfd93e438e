"""benchmarks/conv_backward.py: its FLOP count agrees with torch's flop counter for each pass,
and the written table holds every shape x dtype x layout with the command."""

import json

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode


@pytest.fixture(scope="module")
def cb(load_benchmark):
    return load_benchmark("conv_backward")


@pytest.mark.parametrize("stride", [1, 2])
def test_flops_are_torchs_count_for_forward_and_each_gradient(cb, stride):
    row = cb.time_conv(8, 16, 12, stride, torch.float32, True, batch=4, repeats=1)
    x = torch.randn(4, 8, 12, 12, requires_grad=True)
    w = torch.randn(16, 8, 3, 3, requires_grad=True)
    with FlopCounterMode(display=False) as fwd:
        y = F.conv2d(x, w, stride=stride, padding=1)
    with FlopCounterMode(display=False) as bwd:
        y.backward(torch.ones_like(y))  # input and weight gradients: twice the forward
    assert row["flops"] == fwd.get_total_flops()
    assert bwd.get_total_flops() == 2 * fwd.get_total_flops()


def test_write_has_every_shape_dtype_and_layout(cb, tmp_path, monkeypatch):
    monkeypatch.setattr(cb, "OUT", tmp_path / "conv_backward.json")
    monkeypatch.setattr(cb, "CNN_B_CONVS", [(4, 8, 8, 1), (8, 8, 8, 2)])
    monkeypatch.setattr(cb, "cpu_has_bf16", lambda: True)
    assert cb.main(["--batch", "2", "--repeats", "1", "--write"]) == 0
    doc = json.loads((tmp_path / "conv_backward.json").read_text())
    cells = [(r["conv"], r["dtype"], r["channels_last"]) for r in doc["rows"]]
    assert cells == [(c, d, cl) for c in ("4->8 at 8x8, stride 1", "8->8 at 8x8, stride 2")
                     for d in ("float32", "bfloat16") for cl in (True, False)]
    assert all(r["fwd_ms"] > 0 and r["grad_weight_ms"] > 0 for r in doc["rows"])
    assert doc["command"] == "python benchmarks/conv_backward.py --batch 2 --repeats 1 --write"
