"""Tensor augmentation, normalisation and the palindrome stream."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuralab.data import Split
from neuralab.data.augment import NORMALIZATION, normalize, random_crop, random_flip, to_tensor
from neuralab.data.palindromes import PalindromeDataset
from neuralab.errors import NeuralabError


def batch(n=16, c=3, h=8, w=6):
    return torch.arange(n * c * h * w, dtype=torch.float32).reshape(n, c, h, w) + 1


@pytest.mark.parametrize("mode", ["zero", "reflect"])
def test_random_crop_is_a_window_of_the_padded_image(mode):
    x, p = batch(), 2
    g = torch.Generator().manual_seed(0)
    out = random_crop(x, p, generator=g, mode=mode)
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = F.pad(x, (p, p, p, p), mode="constant" if mode == "zero" else "reflect")
    offsets = set()
    for i in range(len(x)):
        windows = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
                   if torch.equal(padded[i, :, dy:dy + 8, dx:dx + 6], out[i])]
        assert windows, f"image {i} is not a crop"
        offsets.add(windows[0])
    assert len(offsets) > 3  # offsets differ between images


def test_random_crop_zero_padding_brings_zeros_and_is_seeded():
    x = batch(64)
    a = random_crop(x, 3, generator=torch.Generator().manual_seed(1))
    b = random_crop(x, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert (a == 0).any()  # some images were shifted: zeros came in
    assert torch.equal(random_crop(x, 0), x)


def test_random_flip_flips_about_half_left_right():
    x = batch(200)
    out = random_flip(x, generator=torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(out[i], x[i].flip(-1)) for i in range(len(x))])
    kept = torch.tensor([torch.equal(out[i], x[i]) for i in range(len(x))])
    assert bool((flipped | kept).all()) and 60 < int(flipped.sum()) < 140


def test_to_tensor_and_normalize():
    images = np.full((2, 4, 5, 3), 255, np.uint8)
    images[1] = 0
    x, y = to_tensor(Split(images, np.array([3, 4])))
    assert x.shape == (2, 3, 4, 5) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x[0].min() == 1.0 and x[1].max() == 0.0 and x.is_contiguous()
    z = normalize(x, "cifar10")
    mean, std = NORMALIZATION["cifar10"]
    assert torch.allclose(z[1, :, 0, 0], -torch.tensor(mean) / torch.tensor(std))
    assert set(NORMALIZATION) >= {"cifar10", "mnist", "chars36", "emnist", "imagenet"}


@pytest.mark.parametrize("length", [2, 5, 10])
def test_palindromes_are_palindromes(length):
    data = PalindromeDataset(length, seed=0)
    full = data.sample(100)
    assert full.shape == (100, length)
    np.testing.assert_array_equal(full, full[:, ::-1])
    x, y = data.batch(32)
    assert x.shape == (32, length - 1, 1) and x.dtype == torch.float32
    assert y.shape == (32,) and y.dtype == torch.int64
    assert torch.equal(y, x[:, 0, 0].long())  # the target is the first digit


def test_palindromes_one_hot_seeded_infinite():
    a = PalindromeDataset(7, seed=3, one_hot=True, batch_size=8)
    b = PalindromeDataset(7, seed=3, one_hot=True, batch_size=8)
    xa, ya = next(iter(a))
    xb, yb = b.batch()
    assert xa.shape == (8, 6, 10) and torch.equal(xa, xb) and torch.equal(ya, yb)
    assert torch.equal(xa.sum(-1), torch.ones(8, 6))
    assert torch.equal(xa[:, 0].argmax(-1), ya)
    assert a.input_dim == 10 and PalindromeDataset(3).input_dim == 1
    with pytest.raises(NeuralabError):
        PalindromeDataset(1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_augment_on_cuda_with_cpu_or_cuda_generators():
    x = batch(32).cuda()
    for g in (torch.Generator().manual_seed(0), torch.Generator(device="cuda").manual_seed(0)):
        out = random_flip(random_crop(x, 2, generator=g, mode="reflect"), generator=g)
        assert out.device == x.device and out.shape == x.shape
