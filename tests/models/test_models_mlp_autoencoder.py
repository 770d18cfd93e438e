"""MLP and autoencoder: parameter counts, layer layout, shapes, errors."""

import pytest
import torch
from torch import nn

from neuralab.errors import NeuralabError
from neuralab.models import Autoencoder
from neuralab.models.mlp import MLP, make_activation
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


# ----------------------------------------------------------------- activations
def test_make_activation_accepts_names_classes_and_instances():
    assert isinstance(make_activation("ReLU"), nn.ReLU)
    assert isinstance(make_activation(nn.SiLU), nn.SiLU)
    given = nn.LeakyReLU(0.3)
    made = make_activation(given)
    assert isinstance(made, nn.LeakyReLU) and made.negative_slope == 0.3
    assert made is not given  # a copy: layers never share an activation's parameters
    x = torch.tensor([-2.0, 0.0, 3.0])
    torch.testing.assert_close(made(x), torch.tensor([-0.6, 0.0, 3.0]))


def test_mlp_with_an_activation_instance_gives_each_layer_its_own():
    model = MLP(4, [3, 3], 2, activation=nn.PReLU())
    prelus = [m for m in model.layers if isinstance(m, nn.PReLU)]
    assert len(prelus) == 2 and prelus[0].weight is not prelus[1].weight
    # (4*3+3) + 1 + (3*3+3) + 1 + (3*2+2): one PReLU slope per hidden layer
    assert n_params(model) == 15 + 1 + 12 + 1 + 8
    assert [type(m) for m in MLP(4, [3], 2, activation=nn.Tanh).layers] == [
        nn.Linear, nn.Tanh, nn.Linear]


@pytest.mark.parametrize("bad", [3, None, 1.5, "swishy", ["relu"], torch.relu])
def test_make_activation_rejects_anything_else_in_one_line(bad):
    with pytest.raises(NeuralabError) as info:
        make_activation(bad)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"unknown activation {bad!r}; valid: elu, relu, leaky_relu")
    assert "nn.Module class or instance" in message


# ----------------------------------------------------------------- float64
def test_mlp_in_float64_matches_float32_and_passes_gradcheck():
    torch.manual_seed(0)
    model = MLP(6, [5, 4], 3, activation="tanh", batch_norm=True).eval()
    x = torch.randn(7, 6, dtype=torch.float64)
    expected = model(x.float())
    double = MLP(6, [5, 4], 3, activation="tanh", batch_norm=True).eval()
    double.load_state_dict(model.state_dict())
    double = double.double()
    out = double(x)
    assert out.dtype == torch.float64 and out.shape == (7, 3)
    torch.testing.assert_close(out.float(), expected, atol=1e-5, rtol=1e-5)
    assert torch.autograd.gradcheck(double, (x.clone().requires_grad_(),))


def test_float64_input_to_a_float32_mlp_is_cast_to_float32():
    torch.manual_seed(0)
    model = MLP(4, [3], 2)
    x = torch.randn(5, 4, dtype=torch.float64)  # e.g. torch.from_numpy of a NumPy batch
    out = model(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, model(x.float()), atol=0, rtol=0)
