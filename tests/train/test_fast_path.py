"""The pieces of the cifar10-fast recipe: patch whitening, Muon, TTA, alternating flip."""

import numpy as np
import pytest
import torch
from torch import nn

from neuralab.data.augment import flip_half
from neuralab.models.airbench import AirbenchNet
from neuralab.train.loader import AlternatingFlip, TensorLoader
from neuralab.train.muon import Muon, newton_schulz
from neuralab.train.tta import FlipTranslateTTA


def test_whitening_layer_decorrelates_patches():
    torch.manual_seed(0)
    # correlated colour channels: the raw patch covariance is far from the identity
    base = torch.randn(64, 1, 16, 16)
    images = torch.cat([base, 0.8 * base + 0.2 * torch.randn_like(base),
                        torch.randn(64, 1, 16, 16)], dim=1)
    net = AirbenchNet(widths=(8, 8, 8))
    net.init_whiten(images, eps=0.0)
    out = nn.functional.conv2d(images, net.whiten.weight)  # [64, 24, 15, 15], no bias
    half = out[:, :12].permute(0, 2, 3, 1).reshape(-1, 12)
    cov = half.T @ half / len(half)
    assert torch.allclose(cov, torch.eye(12), atol=1e-3)
    assert torch.equal(out[:, 12:], -out[:, :12])  # the negated copies
    assert not net.whiten.weight.requires_grad


def test_airbench_net_shapes_identity_init_and_frozen_bn_scale():
    net = AirbenchNet()
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    conv = net.layers[1].conv2  # 64 -> 64: starts as default init + identity
    centre = conv.weight.detach()[:, :, 1, 1]
    default_bound = 1 / (64 * 9) ** 0.5
    assert torch.all(centre.diagonal() > 1 - default_bound)
    bn = net.layers[1].norm1
    assert not bn.weight.requires_grad and bn.bias.requires_grad and bn.momentum == 0.4
    assert sum(p.numel() for p in net.parameters()) == 1_972_792


def test_newton_schulz_pushes_singular_values_towards_one():
    g = torch.randn(64, 300) @ torch.diag(torch.logspace(-2, 1, 300))  # badly conditioned
    s = torch.linalg.svdvals(newton_schulz(g, steps=5))
    assert s.min() > 0.4 and s.max() < 1.5
    tall = newton_schulz(g.T, steps=5)
    assert tall.shape == (300, 64)
    assert torch.allclose(torch.linalg.svdvals(tall), s, atol=1e-4)


def test_muon_update_ignores_gradient_scale_and_keeps_weight_norm():
    torch.manual_seed(0)
    w0 = torch.randn(16, 4, 3, 3)
    results = []
    for scale in (1.0, 1000.0):
        w = nn.Parameter(w0.clone())
        opt = Muon([dict(params=[w])], lr=0.1, momentum=0.0)
        w.grad = scale * torch.ones_like(w).cumsum(0)
        opt.step()
        results.append(w.detach().clone())
    assert torch.allclose(results[0], results[1], atol=1e-5)
    normalised = w0 * (16 ** 0.5 / w0.norm())
    assert (results[0] - normalised).norm() == pytest.approx(0.1 * newton_schulz(
        torch.ones(16, 36).cumsum(0)).norm().item(), rel=1e-4)


def test_muon_sgd_groups_match_torch_sgd():
    torch.manual_seed(0)
    a, b = nn.Parameter(torch.randn(5)), None
    b = nn.Parameter(a.detach().clone())
    ours = Muon([dict(params=[a], muon=False, lr=0.1, momentum=0.85, nesterov=True,
                      weight_decay=0.01)])
    ref = torch.optim.SGD([b], lr=0.1, momentum=0.85, nesterov=True, weight_decay=0.01)
    for _ in range(4):
        g = torch.randn(5)
        a.grad, b.grad = g.clone(), g.clone()
        ours.step()
        ref.step()
    assert torch.allclose(a, b, atol=1e-6)


def test_muon_refuses_vectors_in_a_muon_group():
    with pytest.raises(ValueError, match="ndim >= 2"):
        Muon([nn.Parameter(torch.zeros(3))])


class _Probe(nn.Module):
    """Logits = the top-left pixel of each of the first two channels (not flip-invariant)."""

    def forward(self, x):
        return x[:, :2, 0, 0]


def test_tta_levels_average_the_documented_views():
    x = torch.arange(2 * 2 * 4 * 4, dtype=torch.float32).view(2, 2, 4, 4)
    probe = _Probe()
    assert torch.equal(FlipTranslateTTA(probe, 0)(x), probe(x))
    mirror = 0.5 * (x[:, :2, 0, 0] + x[:, :2, 0, -1])
    assert torch.allclose(FlipTranslateTTA(probe, 1)(x), mirror)
    pad = nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    up, down = pad[..., :4, :4], pad[..., 2:, 2:]
    views = [0.5 * (v[:, :2, 0, 0] + v[:, :2, 0, -1]) for v in (up, down)]
    assert torch.allclose(FlipTranslateTTA(probe, 2)(x), 0.5 * mirror + 0.25 * sum(views))
    with pytest.raises(ValueError):
        FlipTranslateTTA(probe, 3)


def test_flip_half_mirrors_a_seeded_half_of_the_images():
    images = np.random.default_rng(0).integers(0, 256, (200, 4, 5, 3), dtype=np.uint8)
    out = flip_half(images, seed=3)
    flipped = [not np.array_equal(o, i) for o, i in zip(out, images, strict=True)]
    assert 70 < sum(flipped) < 130
    for o, i, f in zip(out, images, flipped, strict=True):
        assert np.array_equal(o, i[:, ::-1] if f else i)
    assert np.array_equal(flip_half(images, seed=3), out)


def test_alternating_flip_mirrors_every_image_on_odd_epochs_and_survives_resume():
    x = torch.arange(4 * 3 * 2 * 2, dtype=torch.float32).view(4, 3, 2, 2)
    loader = TensorLoader(x, torch.arange(4), 4, transform=AlternatingFlip(lambda b, g: b))
    (even, _), = list(loader)
    loader.set_epoch(1)
    (odd, _), = list(loader)
    assert torch.equal(even, x) and torch.equal(odd, x.flip(-1))
    state = loader.state_dict()
    fresh = TensorLoader(x, torch.arange(4), 4, transform=AlternatingFlip(lambda b, g: b))
    fresh.load_state_dict({**state, "position": 0})
    (again, _), = list(fresh)
    assert torch.equal(again, x.flip(-1))
