"""Dataset facts (``data.info``) and the one preprocessing function (``data.preprocess``)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from neuralab.data import DatasetInfo, Preprocess, dataset_names, info, normalize
from neuralab.data.augment import NORMALIZATION
from neuralab.data.preprocess import denormalize, to_float_nchw
from neuralab.errors import DataError


def test_every_registered_dataset_has_its_facts():
    for name in dataset_names():
        if name == "image-folder":
            continue
        facts = info(name)
        assert isinstance(facts, DatasetInfo) and facts.name == name
        assert facts.num_classes == len(facts.classes) > 1
        assert len(facts.shape) == 3 and facts.shape[0] in (1, 3)
        assert len(facts.mean) in (1, facts.channels) and len(facts.std) == len(facts.mean)


def test_the_numbers_the_project_uses(real_sizes):
    cifar = info("cifar10")
    assert cifar.shape == (3, 32, 32) and cifar.classes[0] == "airplane"
    assert cifar.normalization() == ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    assert cifar.normalization("tdt4265") == ((0.5,) * 3, (0.25,) * 3)
    assert cifar.normalization("imagenet") == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert cifar.per_class == {"train": 5000, "test": 1000}
    assert cifar.expected_total("train") == 50000 and cifar.expected_total("test") == 10000
    assert info("mnist").mean == (0.1307,) and info("mnist").counts == {"train": 60000,
                                                                         "test": 10000}
    assert info("fashion-mnist").per_class == {"train": 6000, "test": 1000}
    assert info("emnist").num_classes == 62 and info("emnist").mean == (0.1736,)
    assert info("emnist", split="letters").classes[0] == "Aa"
    assert info("emnist", split="letters").per_class == {"train": 4800, "test": 800}
    assert info("chars36").shape == (1, 32, 32) and info("chars36").std == (0.3004,)
    assert info("flowers17", size=96).shape == (3, 96, 96)
    assert info("flowers17").per_class == {"train": 40, "val": 20, "test": 20}
    assert info("digits").normalization("half") == ((0.5,), (0.5,))
    assert info("nist36").classes[:2] == ["A", "B"] and info("nist36").classes[-1] == "9"


def test_info_takes_the_loaders_options():
    assert info("flowers17", size=64, split_id=2, seed=3).shape == (3, 64, 64)
    assert info("chars36", seed=4).num_classes == 36
    with pytest.raises(DataError, match="does not take option"):
        info("mnist", size=3)
    with pytest.raises(DataError, match="unknown dataset 'cifar100'"):
        info("cifar100")


def test_unknown_normalization_is_one_line():
    with pytest.raises(DataError) as err:
        info("cifar10").normalization("imagenet21k")
    assert str(err.value) == ("unknown normalization 'imagenet21k' for cifar10; use cifar10 or "
                              "tdt4265 or imagenet")


def test_augment_table_is_a_view_of_the_facts():
    assert NORMALIZATION["cifar10"] == info("cifar10").normalization()
    assert NORMALIZATION["mnist"] == ((0.1307,), (0.3081,))
    assert NORMALIZATION["flowers17"] == NORMALIZATION["imagenet"]
    assert set(NORMALIZATION) == {"cifar10", "mnist", "fashion-mnist", "emnist", "chars36",
                                  "digits", "imagenet", "flowers17"}


def test_importing_neuralab_data_imports_neither_torch_nor_pil():
    code = ("import sys, neuralab.data as d; d.info('cifar10').preprocess(); "
            "import numpy as np; d.normalize(np.zeros((1, 2, 2, 3), np.uint8), (0.5,), (0.5,)); "
            "print('torch' in sys.modules, 'PIL' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def _batch(n=2, h=3, w=4, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


def test_normalize_numpy_nhwc_and_nchw_agree():
    x = _batch()
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    out = normalize(x, mean, std)
    assert out.dtype == np.float32 and out.shape == (2, 3, 3, 4)
    expected = (x.transpose(0, 3, 1, 2) / 255.0 - np.reshape(mean, (1, 3, 1, 1))) \
        / np.reshape(std, (1, 3, 1, 1))
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(normalize(x.transpose(0, 3, 1, 2), mean, std), out)
    np.testing.assert_allclose(normalize(x[0], mean, std), out[:1])  # one image -> [1, C, H, W]
    floats = x.astype(np.float32) / 255  # floats in [0, 1] are not divided again
    np.testing.assert_allclose(normalize(floats, mean, std, layout="nhwc"), out, atol=1e-6)


def test_normalize_torch_keeps_the_kind_and_matches_numpy():
    x = _batch(c=1, seed=3)
    out = normalize(torch.from_numpy(x), (0.1307,), (0.3081,))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out.shape == (2, 1, 3, 4)
    np.testing.assert_allclose(out.numpy(), normalize(x, (0.1307,), (0.3081,)), atol=1e-6)
    gray = np.zeros((5, 7, 9), np.uint8)  # a gray batch [N, H, W]
    assert normalize(gray, (0.5,), (0.5,)).shape == (5, 1, 7, 9)


def test_ambiguous_layouts_follow_the_dtype_or_the_caller():
    x = np.zeros((2, 3, 5, 3), np.uint8)  # both ends could be channels
    assert to_float_nchw(x).shape == (2, 3, 3, 5)  # uint8: stored NHWC
    assert to_float_nchw(x.astype(np.float32)).shape == (2, 3, 5, 3)  # float: already NCHW
    assert to_float_nchw(x, layout="nchw").shape == (2, 3, 5, 3)
    with pytest.raises(ValueError, match="cannot tell the channel axis"):
        to_float_nchw(np.zeros((2, 5, 6, 7), np.uint8))


def test_denormalize_inverts():
    x = _batch()
    out = normalize(x, (0.4, 0.5, 0.6), (0.2, 0.25, 0.3))
    back = denormalize(out, (0.4, 0.5, 0.6), (0.2, 0.25, 0.3))
    np.testing.assert_allclose(back, x.transpose(0, 3, 1, 2) / 255.0, atol=1e-6)


def test_preprocess_matches_the_transfer_backbones_preprocessing():
    from neuralab.models.transfer import Preprocessing

    x = torch.from_numpy(_batch(n=3, h=32, w=32, seed=5))
    ours = Preprocess((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), size=64)
    theirs = Preprocessing(64, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    torch.testing.assert_close(ours(x), theirs(x))
    down = Preprocess((0.5,), (0.5,), size=16)(x)  # shrinking: antialiased
    assert down.shape == (3, 3, 16, 16)


def test_preprocess_channels_and_numpy_resize():
    gray = _batch(c=1, h=8, w=8)
    rgb = Preprocess((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), channels=3)(gray)
    assert rgb.shape == (2, 3, 8, 8)
    np.testing.assert_array_equal(rgb[:, 0], rgb[:, 2])
    colour = _batch(h=8, w=8)
    luma = Preprocess((0.0,), (1.0,), channels=1)(colour)
    expected = (colour.astype(np.float64) / 255) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(luma[:, 0], expected, atol=1e-6)
    resized = Preprocess((0.0,), (1.0,), size=4)(colour)
    assert isinstance(resized, np.ndarray) and resized.shape == (2, 3, 4, 4)


def test_preprocess_from_the_facts_and_as_plain_data():
    p = info("mnist").preprocess(size=32, channels=3)
    assert p == Preprocess((0.1307,), (0.3081,), 32, 3)
    assert Preprocess.from_dict(p.to_dict()) == p
    assert p.to_dict() == {"mean": [0.1307], "std": [0.3081], "size": 32, "channels": 3,
                           "crop": 0}
    assert info("cifar10").preprocess("tdt4265").std == (0.25, 0.25, 0.25)
    with pytest.raises(ValueError, match="stds must be positive"):
        Preprocess((0.5,), (0.0,))
    with pytest.raises(ValueError, match="2 means for 3 channels"):
        Preprocess((0.5, 0.5), (1.0, 1.0), channels=3)


def test_preprocess_crop_cuts_the_centre_after_the_resize_and_round_trips():
    import numpy as np

    from neuralab.data.preprocess import Preprocess

    x = np.arange(32 * 32, dtype=np.uint8).reshape(1, 32, 32, 1)
    pre = Preprocess(mean=(0.0,), std=(1.0,), size=32, channels=1, crop=2)
    out = pre(x)
    assert out.shape == (1, 1, 28, 28)
    assert np.allclose(out[0, 0], x[0, 2:30, 2:30, 0] / 255.0)
    assert Preprocess.from_dict(pre.to_dict()) == pre
    import pytest

    with pytest.raises(ValueError, match="crop"):
        Preprocess(mean=(0.0,), std=(1.0,), size=8, crop=4)
