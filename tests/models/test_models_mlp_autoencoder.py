"""MLP and autoencoder: parameter counts, layer layout, shapes, errors."""

import pytest
import torch
from torch import nn

from neuralab.errors import NeuralabError
from neuralab.models import Autoencoder
from neuralab.models.mlp import MLP
from neuralab.models.shapes import ShapeError


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_mlp_handout_default_parameter_count():
    # UvA default: 3072 -> 100 -> 10: (3072*100 + 100) + (100*10 + 10).
    assert n_params(MLP(3072, [100], 10)) == 307_300 + 1_010


def test_mlp_flattens_images_and_returns_logits():
    model = MLP(3 * 32 * 32, [64, 32], 10)
    assert model(torch.randn(5, 3, 32, 32)).shape == (5, 10)
    assert model(torch.randn(5, 3072)).shape == (5, 10)


def test_mlp_without_hidden_layers_is_a_single_linear_map():
    model = MLP(4, [], 3)
    assert [type(m) for m in model.layers] == [nn.Linear]


def test_mlp_layer_layout_with_batch_norm_and_dropout():
    model = MLP(8, [6, 4], 2, activation="relu", batch_norm=True, dropout=0.5)
    kinds = [type(m).__name__ for m in model.layers]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout",
                     "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]  # fmt: skip
    # BN adds 2 parameters per hidden unit: (8*6+6) + 12 + (6*4+4) + 8 + (4*2+2).
    assert n_params(model) == 54 + 12 + 28 + 8 + 10


def test_mlp_default_activation_is_elu():
    assert any(isinstance(m, nn.ELU) for m in MLP(4, [3], 2).modules())


def test_mlp_rejects_unknown_activation_and_wrong_width():
    with pytest.raises(NeuralabError, match="unknown activation 'swishy'"):
        MLP(4, [3], 2, activation="swishy")
    with pytest.raises(ShapeError, match="expects 4 features"):
        MLP(4, [3], 2)(torch.randn(2, 5))


def test_autoencoder_parameter_count_and_output_range():
    model = Autoencoder()
    # (1024*32 + 32) + 2 * (32*32 + 32) + (32*1024 + 1024)
    assert n_params(model) == 32_800 + 2 * 1_056 + 33_792 == 68_704
    x = torch.rand(7, 1024)
    out = model(x)
    assert out.shape == (7, 1024)
    assert ((out > 0) & (out < 1)).all()
    assert model.encode(x).shape == (7, 32)
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 3
    assert isinstance(list(model.modules())[-1], nn.Sigmoid)
