"""Registry: names, defaults, shapes, errors, torchinfo summaries."""

import pytest
import torch

from neuralab.errors import NeuralabError
from neuralab.models import (
    REGISTRY,
    build_model,
    get_model,
    input_shape,
    list_models,
    model_names,
    register_model,
    summary,
)
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


# ----------------------------------------------------------------- @register_model
@pytest.fixture
def scratch_name():
    """A model name registered only for one test, removed afterwards."""
    name = "tiny_test_model"
    yield name
    REGISTRY.pop(name, None)


def test_each_builder_registers_itself_beside_its_definition():
    from neuralab.models import airbench, charcnn, cnn, fastcnn, mlp, rnn, transfer

    owners = {"mlp": mlp.MLP, "simple_cnn": cnn.SimpleCNN, "vgg": cnn.VGG,
              "preact_vgg13": cnn.PreActVGG13, "cnn_a": fastcnn.CNNA, "cnn_b": fastcnn.CNNB,
              "cnn_best": fastcnn.CNNBest, "airbench": airbench.AirbenchNet,
              "vanilla_rnn": rnn.VanillaRNN, "lstm": rnn.LSTM, "char_cnn": charcnn.CharCNN,
              "char_fc": charcnn.CharFC, "scratch_cnn": transfer.ScratchCNN,
              "resnet18": transfer.resnet18_transfer}  # fmt: skip
    for name, builder in owners.items():
        assert REGISTRY[name].build is builder, name
    assert list_models() == model_names() and set(model_names()) == set(REGISTRY)
    assert REGISTRY["lstm"].defaults == {"seq_length": 10, "input_dim": 1, "num_hidden": 128,
                                         "num_classes": 10}
    assert input_shape("resnet18") == (3, 224, 224)
    assert input_shape("scratch_cnn") == (3, 112, 112)


def test_register_model_decorator_adds_a_buildable_model(scratch_name):
    @register_model(scratch_name, input_shape=(5,), width=3)
    class Tiny(torch.nn.Module):
        """[N, 5] -> [N, num_classes]."""

        def __init__(self, width: int = 1, num_classes: int = 2) -> None:
            super().__init__()
            self.body = torch.nn.Linear(5, width)
            self.head = torch.nn.Linear(width, num_classes)

        def forward(self, x):
            return self.head(self.body(x))

    assert Tiny.__name__ == "Tiny"  # the decorator returns the class itself
    assert model_names()[-1] == scratch_name
    assert input_shape(scratch_name) == (5,)
    model = build_model(scratch_name, num_classes=4)
    assert isinstance(model, Tiny) and model.body.out_features == 3  # registered default
    assert build_model(scratch_name, width=6).body.out_features == 6  # caller overrides
    assert "Total params: 34" in summary(model)  # 5*3+3 + 3*4+4; shape from the registry
    assert get_model(scratch_name).head.out_features == 2


def test_registering_a_name_twice_is_an_error(scratch_name):
    register_model(scratch_name, input_shape=(1,))(torch.nn.Identity)
    with pytest.raises(NeuralabError, match=f"'{scratch_name}' is registered twice"):
        register_model(scratch_name, input_shape=(1,))(torch.nn.Identity)
    with pytest.raises(NeuralabError, match="'simple_cnn' is registered twice"):
        register_model("simple_cnn", input_shape=(3, 32, 32))(SimpleCNN)
    assert REGISTRY["simple_cnn"].build is SimpleCNN


def test_torchvision_loads_only_when_a_backbone_is_used():
    """``import neuralab.models`` (and so every command) does not pay torchvision's import;
    the transfer models are listed anyway and load on first use."""
    import subprocess
    import sys

    code = ("import sys, neuralab.models as m; assert 'torchvision' not in sys.modules; "
            "assert 'resnet18' in m.model_names(); print(m.input_shape('scratch_cnn')); "
            "assert 'torchvision' in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "(3, 112, 112)"
