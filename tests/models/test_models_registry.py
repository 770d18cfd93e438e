"""Registry: names, defaults, shapes, errors, torchinfo summaries."""

import pytest
import torch

from neuralab.errors import NeuralabError
from neuralab.models import build_model, input_shape, model_names, summary
from neuralab.models.cnn import SimpleCNN

NAMES = ["mlp", "simple_cnn", "vgg", "preact_vgg13", "cnn_a", "cnn_b", "cnn_best", "airbench",
         "vanilla_rnn", "lstm", "autoencoder"]  # fmt: skip
OUTPUTS = {"autoencoder": (2, 1024)}


def test_model_names_start_with_the_core_zoo_in_order():
    names = model_names()
    assert names[: len(NAMES)] == NAMES
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("name", NAMES)
def test_every_model_accepts_its_input_shape(name):
    model = build_model(name).eval()
    with torch.no_grad():
        out = model(torch.rand(2, *input_shape(name)))
    assert out.shape == OUTPUTS.get(name, (2, 10))


def test_input_shapes():
    assert input_shape("simple_cnn") == (3, 32, 32)
    assert input_shape("mlp") == (3072,)
    assert input_shape("autoencoder") == (1024,)
    assert input_shape("lstm") == (10, 1)


def test_kwargs_override_defaults():
    model = build_model("mlp", n_hidden=[20, 30])
    assert [m.out_features for m in model.layers if isinstance(m, torch.nn.Linear)] == [20, 30, 10]
    rnn = build_model("vanilla_rnn", input_dim=10, num_hidden=7)
    assert rnn.W_hh.shape == (7, 7) and rnn.W_hx.shape == (7, 10)


def test_unknown_name_lists_valid_names_in_one_line():
    with pytest.raises(NeuralabError) as info:
        build_model("resnet152")
    message = str(info.value)
    assert "\n" not in message
    assert "'resnet152'" in message
    assert all(name in message for name in NAMES)
    with pytest.raises(NeuralabError, match="valid names"):
        input_shape("nope")


def test_bad_keyword_is_a_neuralab_error():
    with pytest.raises(NeuralabError, match="simple_cnn.*n_filters"):
        build_model("simple_cnn", n_filters=3)


def test_summary_by_name_shows_shapes_and_parameter_totals():
    text = summary("simple_cnn")
    assert "Total params: 390,410" in text
    assert "Trainable params: 390,410" in text
    assert "[1, 32, 32, 32]" in text  # first conv output
    assert "[1, 10]" in text


def test_summary_of_an_instance_and_of_an_rnn():
    assert "Total params: 390,410" in summary(SimpleCNN())
    # H*D + H*H + H + C*H + C with D=1, H=128, C=10
    assert "Total params: 17,930" in summary("vanilla_rnn")  # 128 + 16384 + 128 + 1280 + 10
    frozen = SimpleCNN()
    for p in frozen.features.parameters():
        p.requires_grad_(False)
    assert "Trainable params: 131,786" in summary(frozen)


def test_summary_of_unregistered_module_needs_input_size():
    layer = torch.nn.Linear(4, 2)
    with pytest.raises(NeuralabError, match="input_size"):
        summary(layer)
    assert "Total params: 10" in summary(layer, input_size=(4,))
