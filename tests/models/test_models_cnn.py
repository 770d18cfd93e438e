"""CIFAR-10 networks: exact parameter counts (worked out on paper below) and shapes."""

import pytest
import torch
from torch import nn

from neuralab.models import build_model
from neuralab.models.cnn import VGG, PreActBlock, PreActVGG13, SimpleCNN


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def conv(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def bn(c: int) -> int:
    return 2 * c  # gamma and beta


def test_simple_cnn_has_exactly_390410_parameters():
    assert n_params(SimpleCNN()) == 390_410
    # 2,432 + 51,264 + 204,928 + 131,136 + 650, from TDT4265 assignment 3 Table 2.
    paper = conv(3, 32, 5) + conv(32, 64, 5) + conv(64, 128, 5) + (2048 * 64 + 64) + (64 * 10 + 10)
    assert paper == 390_410


def test_vgg_parameter_count_matches_table_1():
    # Every conv row is conv3x3 (+bias) + BN; the linear layer is 512*10 + 10.
    convs = [(3, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512),
             (512, 512), (512, 512)]  # fmt: skip
    paper = sum(conv(i, o, 3) + bn(o) for i, o in convs) + 512 * 10 + 10
    assert paper == 9_231_114
    assert n_params(VGG()) == paper


def test_preact_vgg13_parameter_count_matches_figure_5():
    # conv0 3x3; PreAct blocks are BN(c) + conv3x3(c, c); 1x1 convs widen; BN(512) + linear.
    blocks = [64, 128, 128, 256, 256, 512, 512, 512, 512]
    paper = (
        conv(3, 64, 3)
        + sum(bn(c) + conv(c, c, 3) for c in blocks)
        + conv(64, 128, 1) + conv(128, 256, 1) + conv(256, 512, 1)
        + bn(512) + 512 * 10 + 10
    )  # fmt: skip
    assert paper == 11_138_122
    assert n_params(PreActVGG13()) == paper


def test_vgg_layers_follow_table_1():
    model = VGG()
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 5
    assert all((p.kernel_size, p.stride, p.padding) == (3, 2, 1) for p in pools)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 256, 512, 512, 512, 512]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 8


def test_preact_block_is_identity_plus_bn_relu_conv():
    block = PreActBlock(4).eval()
    x = torch.randn(2, 4, 5, 5)
    expected = x + block.conv(torch.relu(block.bn(x)))
    torch.testing.assert_close(block(x), expected)
    with torch.no_grad():
        block.conv.weight.zero_()
        block.conv.bias.zero_()
    torch.testing.assert_close(block(x), x)


def test_preact_vgg13_spatial_sizes():
    model = PreActVGG13().eval()
    sizes = {}
    for name, layer in model.features.named_children():
        layer.register_forward_hook(lambda m, i, o, name=name: sizes.__setitem__(name, o.shape))
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 32))
    assert sizes["conv1"] == (1, 128, 32, 32)
    assert sizes["maxpool1"] == (1, 128, 16, 16)
    assert sizes["conv3"] == (1, 512, 8, 8)
    assert sizes["maxpool5"] == (1, 512, 1, 1)
    assert "conv4" not in sizes and "conv5" not in sizes


@pytest.mark.parametrize(
    "name", ["simple_cnn", "vgg", "preact_vgg13", "cnn_a", "cnn_b", "cnn_best"]
)
def test_cifar_models_map_images_to_10_logits(name):
    model = build_model(name).eval()
    with torch.no_grad():
        out = model(torch.randn(3, 3, 32, 32))
    assert out.shape == (3, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["cnn_a", "cnn_b", "cnn_best"])
def test_fast_cnns_train_step_reduces_loss_on_a_fixed_batch(name):
    torch.manual_seed(0)
    model = build_model(name).to(memory_format=torch.channels_last)
    x = torch.randn(16, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.arange(16) % 10
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batch: one thread is as fast and immune to contention
    try:
        losses = []
        for _ in range(6):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    assert losses[-1] < 0.7 * losses[0]


def test_cnn_a_parameter_count():
    # Six bias-free conv3x3 + BN (3->32->32, 32->64->64, 64->128->128) and a 128->10 linear.
    convs = [(3, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128)]
    paper = sum(conv(i, o, 3, bias=False) + bn(o) for i, o in convs) + 128 * 10 + 10
    assert paper == 288_746
    assert n_params(build_model("cnn_a")) == paper


def test_cnn_b_parameter_count():
    # Stem 3->32; blocks 32->64, 64->128, 128->256, each two conv3x3 + BN and a 1x1
    # projection + BN (no conv biases); a 256->10 linear.
    paper = conv(3, 32, 3, bias=False) + bn(32) + 256 * 10 + 10
    for i, o in [(32, 64), (64, 128), (128, 256)]:
        paper += conv(i, o, 3, False) + conv(o, o, 3, False) + conv(i, o, 1, False) + 3 * bn(o)
    assert paper == 1_210_410
    assert n_params(build_model("cnn_b")) == paper


def test_cnn_best_parameter_count():
    # Stem conv2x2 3->24 + BN; groups 24->64, 64->128, 128->256 of two conv3x3 + BN each
    # (no conv biases); a bias-free 256->10 linear.
    paper = 3 * 24 * 2 * 2 + bn(24) + 256 * 10
    for i, o in [(24, 64), (64, 128), (128, 256)]:
        paper += conv(i, o, 3, False) + conv(o, o, 3, False) + 2 * bn(o)
    assert paper == 1_161_296
    assert n_params(build_model("cnn_best")) == paper


def test_cnn_best_shapes_and_logit_scale():
    model = build_model("cnn_best").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        stem = model.stem(x)
        assert stem.shape == (2, 24, 31, 31)
        feats = model.groups(stem)
        assert feats.shape == (2, 256, 3, 3)
        expected = model.linear(feats.amax(dim=(2, 3))) / 9
        torch.testing.assert_close(model(x), expected)


def test_fast_cnns_cost_less_than_the_handout_vgg():
    def mult_adds(model):
        total = 0

        def hook(m, inputs, out):
            nonlocal total
            total += out[0].numel() * m.weight[0].numel()

        handles = [m.register_forward_hook(hook) for m in model.modules()
                   if isinstance(m, (nn.Conv2d, nn.Linear))]  # fmt: skip
        with torch.no_grad():
            model.eval()(torch.randn(1, 3, 32, 32))
        for h in handles:
            h.remove()
        return total

    vgg = mult_adds(VGG())
    assert vgg == pytest.approx(152.8e6, rel=0.01)
    for name, budget in [("cnn_a", 40e6), ("cnn_b", 46e6), ("cnn_best", 66e6)]:
        assert mult_adds(build_model(name)) < budget < vgg / 2


def test_train_throughput_counts_whole_batches_and_restores_threads():
    from neuralab.models.speed import train_throughput

    threads = torch.get_num_threads()
    rate = train_throughput(SimpleCNN(), batch_size=8, seconds=0.2, threads=1, clock="cpu",
                            channels_last=True)  # fmt: skip
    assert 8 / 0.2 < rate < 1e6
    assert torch.get_num_threads() == threads
