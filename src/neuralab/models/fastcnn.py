"""Our own CIFAR-10 designs for TDT4265 assignment 3 task 3, sized for a 2-core CPU.

All take ``[N, in_channels, 32, 32]`` normalised images (3 channels by default) and return
``[N, num_classes]`` logits (``n_classes=`` is accepted too). The rules that make them fast
on a CPU: few layers at full resolution (pool early), width where the maps are small,
BatchNorm after every convolution (so high learning rates work and 10 epochs suffice), no
bias in convolutions followed by BatchNorm, and ``channels_last`` memory format in training
(the trainer's job) for the oneDNN kernels.

- :class:`CNNA` -- a VGG-style plain network: three stages of two conv-BN-ReLU layers and a
  2x2 max-pool, then dropout and one linear layer.
- :class:`CNNB` -- a small residual network: a stem and three stride-2 basic blocks with
  projection shortcuts, global average pooling.
- :class:`CNNBest` -- an airbench-style network: a 2x2 stem, three conv-pool-BN-GELU-conv
  groups whose first convolution runs *before* the pool, global max pooling and a scaled,
  bias-free linear readout.

Cost per 32x32 image (forward multiply-adds) against the handout VGG's 152.8M: ``cnn_a``
38.6M, ``cnn_b`` 44.9M, ``cnn_best`` 65.4M (airbench94's own widths, 24/64/256/256, would be
118M). Training throughput on one Zen 3 core, channels_last, batch 256, in images per
CPU-second (:func:`neuralab.models.speed.train_throughput`, ``clock="cpu"``): SimpleCNN 1148,
VGG 172, ``cnn_a`` 508, ``cnn_b`` 516, ``cnn_best`` 372; two threads give up to twice that.

Their training recipes (SGD with Nesterov momentum, one-cycle learning rate, label smoothing
0.2, random crop + flip, 10 epochs) are the defaults of the ``cifar10-cnn-a|b|best``
experiments in :mod:`neuralab.experiments.cifar10`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neuralab.errors import NeuralabError
from neuralab.models.registry import num_classes_arg, register_model


def conv_bn(
    c_in: int, c_out: int, act: type[nn.Module] = nn.ReLU, stride: int = 1
) -> nn.Sequential:
    """Conv 3x3 pad 1 (no bias) -> BatchNorm2d -> activation; ``[N, c_in, H, W] ->
    [N, c_out, H / stride, W / stride]``."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        act(),
    )


@register_model("cnn_a", input_shape=(3, 32, 32))
class CNNA(nn.Module):
    """Plain VGG-style network.

    ====================================================  ======================
    layer                                                 output shape
    ====================================================  ======================
    conv-BN-ReLU C->w1, conv-BN-ReLU w1->w1, MaxPool 2    [N, w1, 16, 16]
    conv-BN-ReLU w1->w2, conv-BN-ReLU w2->w2, MaxPool 2   [N, w2, 8, 8]
    conv-BN-ReLU w2->w3, conv-BN-ReLU w3->w3, MaxPool 2   [N, w3, 4, 4]
    global average pool, Dropout(p), Linear w3->K         [N, K]
    ====================================================  ======================

    Default widths ``(32, 64, 128)``, ``C = in_channels = 3``, ``K = num_classes = 10``.
    """

    def __init__(
        self, widths: Sequence[int] = (32, 64, 128), dropout: float = 0.1,
        num_classes: int | None = None, in_channels: int = 3, *, n_classes: int | None = None
    ) -> None:
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "CNNA", default=10)
        layers: list[nn.Module] = []
        c = in_channels
        for w in widths:
            layers += [conv_bn(c, w), conv_bn(w, w), nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    """ResNet basic block: ``ReLU(BN(conv(ReLU(BN(conv_s(x))))) + shortcut(x))``.

    The first conv has stride ``stride``; the shortcut is the identity when shapes match,
    else a strided 1x1 conv + BN. Shapes: ``[N, c_in, H, W] -> [N, c_out, H/s, W/s]``.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv_bn(c_in, c_out, stride=stride)
        self.conv2 = nn.Sequential(
            nn.Conv2d(c_out, c_out, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(c_out)
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(c_out),
            )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


@register_model("cnn_b", input_shape=(3, 32, 32))
class CNNB(nn.Module):
    """Small residual network.

    ==========================================  ======================
    layer                                       output shape
    ==========================================  ======================
    conv-BN-ReLU C->w0                          [N, w0, 32, 32]
    BasicBlock w0->w1, stride 2                 [N, w1, 16, 16]
    BasicBlock w1->w2, stride 2                 [N, w2, 8, 8]
    BasicBlock w2->w3, stride 2                 [N, w3, 4, 4]
    global average pool, Linear w3->K           [N, K]
    ==========================================  ======================

    Default widths ``(32, 64, 128, 256)``, ``C = in_channels = 3``, ``K = num_classes = 10``.
    """

    def __init__(self, widths: Sequence[int] = (32, 64, 128, 256),
                 num_classes: int | None = None, in_channels: int = 3, *,
                 n_classes: int | None = None) -> None:
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "CNNB", default=10)
        w0, *rest = widths
        blocks: list[nn.Module] = [conv_bn(in_channels, w0)]
        c = w0
        for w in rest:
            blocks.append(BasicBlock(c, w, stride=2))
            c = w
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ConvGroup(nn.Module):
    """airbench's group: ``conv(c_in->c_out) -> MaxPool 2 -> BN -> act -> conv -> BN -> act``.

    The first conv runs at the input resolution, the second at half of it.
    Shapes: ``[N, c_in, H, W] -> [N, c_out, H // 2, W // 2]``.
    """

    def __init__(self, c_in: int, c_out: int, act: type[nn.Module] = nn.GELU) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, kernel_size=3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(c_out)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm1(self.pool(self.conv1(x))))
        return self.act(self.norm2(self.conv2(x)))


@register_model("cnn_best", input_shape=(3, 32, 32))
class CNNBest(nn.Module):
    """airbench-style network, narrowed for a CPU.

    ===============================================  ======================
    layer                                            output shape
    ===============================================  ======================
    stem: conv 2x2 (no pad) C->w0, BN, act           [N, w0, 31, 31]
    ConvGroup w0->w1                                 [N, w1, 15, 15]
    ConvGroup w1->w2                                 [N, w2, 7, 7]
    ConvGroup w2->w3                                 [N, w3, 3, 3]
    global max pool, Linear w3->K (no bias), x s     [N, K]
    ===============================================  ======================

    Default widths ``(24, 64, 128, 256)``: airbench94 (Keller Jordan) has 24/64/256/256;
    halving the middle group halves the cost. ``scale`` (1/9, as in airbench) shrinks the
    logits so a high learning rate does not saturate the softmax. GELU costs about 2% more
    than ReLU here (``act="relu"`` to switch). ``C = in_channels = 3``,
    ``K = num_classes = 10`` by default.
    """

    def __init__(
        self,
        widths: Sequence[int] = (24, 64, 128, 256),
        act: str = "gelu",
        scale: float = 1 / 9,
        num_classes: int | None = None,
        in_channels: int = 3,
        *,
        n_classes: int | None = None,
    ) -> None:
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "CNNBest", default=10)
        acts = {"gelu": nn.GELU, "relu": nn.ReLU}
        if act not in acts:
            raise NeuralabError(f"CNNBest: unknown act {act!r}; valid: {', '.join(acts)}")
        act_cls = acts[act]
        w0, *rest = widths
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, w0, kernel_size=2, padding=0, bias=False),
            nn.BatchNorm2d(w0),
            act_cls(),
        )
        groups: list[nn.Module] = []
        c = w0
        for w in rest:
            groups.append(ConvGroup(c, w, act_cls))
            c = w
        self.groups = nn.Sequential(*groups)
        self.linear = nn.Linear(c, num_classes, bias=False)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.groups(self.stem(x))
        return self.linear(torch.amax(x, dim=(2, 3))) * self.scale
