"""``num_classes`` everywhere: every registered classifier builds with ``num_classes=3`` and
returns ``[2, 3]`` logits; the handouts' ``n_classes`` is an alias; ``in_channels`` where
natural."""

import inspect

import pytest
import torch
from torch import nn

from neuralab.errors import NeuralabError
from neuralab.models import REGISTRY, build_model, input_shape, model_names
from neuralab.models.airbench import AirbenchNet
from neuralab.models.charcnn import CharCNN, CharFC
from neuralab.models.cnn import VGG, PreActVGG13, SimpleCNN
from neuralab.models.fastcnn import CNNA, CNNB, CNNBest
from neuralab.models.mlp import MLP
from neuralab.models.rnn import LSTM, VanillaRNN
from neuralab.models.transfer import ScratchCNN

CLASSIFIERS = [n for n in model_names() if n != "autoencoder"]


def _logits(model: nn.Module, name: str, batch: int = 2) -> torch.Tensor:
    torch.manual_seed(0)
    with torch.no_grad():
        return model.eval()(torch.rand(batch, *input_shape(name)))


def test_every_model_but_the_autoencoder_is_a_classifier_taking_num_classes():
    assert len(CLASSIFIERS) == len(model_names()) - 1 >= 16
    for name in CLASSIFIERS:
        params = inspect.signature(REGISTRY[name].build).parameters
        assert "num_classes" in params and "n_classes" in params, name
    assert "num_classes" not in inspect.signature(REGISTRY["autoencoder"].build).parameters


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_num_classes_3_gives_logits_of_shape_2_by_3(name):
    out = _logits(build_model(name, num_classes=3), name)
    assert out.shape == (2, 3)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["mlp", "simple_cnn", "cnn_best", "lstm", "char_fc",
                                  "squeezenet1_1"])
def test_n_classes_alias_builds_the_same_model_as_num_classes(name):
    torch.manual_seed(1)
    by_alias = build_model(name, n_classes=5)
    torch.manual_seed(1)
    by_name = build_model(name, num_classes=5)
    a, b = by_alias.state_dict(), by_name.state_dict()
    assert list(a) == list(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert _logits(by_alias, name).shape == (2, 5)


def test_registered_num_classes_defaults_are_ten_and_the_alias_replaces_them():
    assert REGISTRY["mlp"].defaults["num_classes"] == 10
    assert build_model("mlp").layers[-1].out_features == 10
    assert build_model("mlp", n_classes=7).layers[-1].out_features == 7
    assert build_model("vanilla_rnn", n_classes=4).W_ph.shape == (4, 128)
    assert build_model("char_fc").out.out_features == 36  # hw5's NIST36 default
    assert build_model("scratch_cnn").classifier[-1].out_features == 17  # Flowers-17


@pytest.mark.parametrize("cls, head", [
    (SimpleCNN, lambda m: m.classifier[-1]), (VGG, lambda m: m.linear),
    (PreActVGG13, lambda m: m.linear), (CNNA, lambda m: m.head[-1]),
    (CNNB, lambda m: m.head[-1]), (CNNBest, lambda m: m.linear),
    (AirbenchNet, lambda m: m.head), (CharCNN, lambda m: m.head[-1]),
    (CharFC, lambda m: m.out), (ScratchCNN, lambda m: m.classifier[-1]),
])  # fmt: skip
def test_constructors_take_num_classes_and_n_classes(cls, head):
    assert head(cls(num_classes=3)).out_features == 3
    assert head(cls(n_classes=4)).out_features == 4
    assert head(cls(num_classes=6, n_classes=6)).out_features == 6
    with pytest.raises(NeuralabError, match="num_classes=3 and n_classes=4 disagree"):
        cls(num_classes=3, n_classes=4)


def test_old_positional_and_keyword_calls_still_work():
    # the calls experiments/, ocr/ and the stored classifier.json files make
    assert MLP(64, [32], 10, activation="relu").layers[-1].out_features == 10
    assert MLP(n_inputs=8, n_hidden=[4], n_classes=3).layers[-1].out_features == 3
    assert CharCNN(1, 36).head[-1].out_features == 36
    kwargs = {"in_channels": 1, "n_classes": 36, "widths": [4, 8, 8], "dropout": 0.0}
    assert build_model("char_cnn", **kwargs).head[-1].out_features == 36
    kwargs = {"n_inputs": 28 * 28, "hidden": 16, "n_classes": 26}
    fc = build_model("char_fc", **kwargs)
    assert (fc.hidden.in_features, fc.out.out_features) == (784, 26)
    assert AirbenchNet((8, 8, 8), 2).head.out_features == 10
    assert ScratchCNN(5).classifier[-1].out_features == 5
    rnn = VanillaRNN(5, 10, 8, 3, "uniform")
    assert rnn.W_ph.shape == (3, 8) and rnn.num_classes == 3


def test_classifiers_without_a_default_class_count_say_so():
    with pytest.raises(NeuralabError, match="MLP needs num_classes"):
        MLP(4, [3])
    with pytest.raises(NeuralabError, match="LSTM needs num_classes"):
        LSTM(seq_length=4, input_dim=1, num_hidden=8)


@pytest.mark.parametrize("cls, first_conv", [
    (SimpleCNN, lambda m: m.features[0]), (VGG, lambda m: m.features.conv1[0]),
    (PreActVGG13, lambda m: m.features.conv0), (CNNA, lambda m: m.features[0][0]),
    (CNNB, lambda m: m.features[0][0]), (CNNBest, lambda m: m.stem[0]),
    (ScratchCNN, lambda m: m.features[0]),
])  # fmt: skip
def test_in_channels_sets_the_first_convolution(cls, first_conv):
    model = cls(in_channels=1, num_classes=2).eval()
    assert first_conv(model).in_channels == 1
    size = 112 if cls is ScratchCNN else 32
    with torch.no_grad():
        assert model(torch.rand(2, 1, size, size)).shape == (2, 2)


def test_airbench_whitening_width_follows_in_channels():
    net = AirbenchNet(widths=(8, 8, 8), whiten_kernel=2, in_channels=1, num_classes=4)
    assert net.whiten.weight.shape == (2 * 1 * 2 * 2, 1, 2, 2)  # [2 C k k, C, k, k]
    net.init_whiten(torch.randn(16, 1, 32, 32))
    with torch.no_grad():
        assert net.eval()(torch.randn(3, 1, 32, 32)).shape == (3, 4)


def test_cnn_best_unknown_activation_is_a_one_line_error():
    with pytest.raises(NeuralabError, match="unknown act 'swish'; valid: gelu, relu"):
        CNNBest(act="swish")
