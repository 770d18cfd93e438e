"""The handouts' CIFAR-10 convolutional networks, layer for layer.

All take images ``[N, in_channels, 32, 32]`` (``in_channels`` = 3 by default) and return
logits ``[N, num_classes]`` (``n_classes=`` is accepted too); all use PyTorch's default
initialisation, as the handouts ask. Our own fast designs for TDT4265 task 3
(``cnn_a``, ``cnn_b``, ``cnn_best``) live in :mod:`neuralab.models.fastcnn`.

- :class:`SimpleCNN`: TDT4265 assignment 3, Table 2 (390,410 parameters).
- :class:`VGG`: the VISUM practical / UvA DL practical 1 (2018) Table 1 VGG-like ConvNet.
- :class:`PreActVGG13`: UvA DL practical 1 (2020) Figure 5, VGG13 with pre-activation
  residual blocks.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralab.models.registry import num_classes_arg, register_model


@register_model("simple_cnn", input_shape=(3, 32, 32))
class SimpleCNN(nn.Module):
    """TDT4265 assignment 3, Table 2: three 5x5 conv/pool stages and a two-layer head.

    ======  ===================================  ===============
    layer   operation                            output shape
    ======  ===================================  ===============
    1       Conv 5x5 pad 2, 3->32, ReLU          [N, 32, 32, 32]
            MaxPool 2x2 stride 2                 [N, 32, 16, 16]
    2       Conv 5x5 pad 2, 32->64, ReLU         [N, 64, 16, 16]
            MaxPool 2x2 stride 2                 [N, 64, 8, 8]
    3       Conv 5x5 pad 2, 64->128, ReLU        [N, 128, 8, 8]
            MaxPool 2x2 stride 2                 [N, 128, 4, 4]
            Flatten                              [N, 2048]
    4       Linear 2048->64, ReLU                [N, 64]
    5       Linear 64->10                        [N, 10]
    ======  ===================================  ===============

    Parameters: 2,432 + 51,264 + 204,928 + 131,136 + 650 = 390,410.
    """

    def __init__(self, in_channels: int = 3, num_classes: int | None = None, *,
                 n_classes: int | None = None) -> None:
        """``num_classes`` (default 10; alias ``n_classes``) output logits."""
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "SimpleCNN", default=10)
        stages: list[nn.Module] = []
        width = in_channels
        for filters in (32, 64, 128):
            stages += [
                nn.Conv2d(width, filters, kernel_size=5, stride=1, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(kernel_size=2, stride=2),
            ]
            width = filters
        self.features = nn.Sequential(*stages)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * 4 * 4, 64),
            nn.ReLU(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    """Conv 3x3 stride 1 pad 1 -> BatchNorm2d -> ReLU; keeps the spatial size."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


def maxpool_3s2p1() -> nn.MaxPool2d:
    """MaxPool 3x3 stride 2 pad 1, the handouts' pooling: H -> ceil(H / 2)."""
    return nn.MaxPool2d(kernel_size=3, stride=2, padding=1)


@register_model("vgg", input_shape=(3, 32, 32))
class VGG(nn.Module):
    """The VGG-like ConvNet of VISUM / UvA DL practical 1, Table 1.

    Every ``conv`` row is Conv 3x3 stride 1 pad 1 -> BatchNorm -> ReLU ("all conv blocks
    consist of 2D-convolutional layer, followed by Batch Normalization layer and ReLU layer");
    every ``maxpool`` row is MaxPool 3x3 stride 2 pad 1; ``avgpool`` is AvgPool 1x1 stride 1
    pad 0 (the 2018 table; an identity here, since the map is already 1x1, and the 2019 table
    drops it). Read from the UvA 2018 and 2019 ``assignment_1.pdf`` tables.

    ========  ==========  ===============
    name      channels    output shape
    ========  ==========  ===============
    conv1     3 -> 64     [N, 64, 32, 32]
    maxpool1              [N, 64, 16, 16]
    conv2     64 -> 128   [N, 128, 16, 16]
    maxpool2              [N, 128, 8, 8]
    conv3_a   128 -> 256  [N, 256, 8, 8]
    conv3_b   256 -> 256  [N, 256, 8, 8]
    maxpool3              [N, 256, 4, 4]
    conv4_a   256 -> 512  [N, 512, 4, 4]
    conv4_b   512 -> 512  [N, 512, 4, 4]
    maxpool4              [N, 512, 2, 2]
    conv5_a   512 -> 512  [N, 512, 2, 2]
    conv5_b   512 -> 512  [N, 512, 2, 2]
    maxpool5              [N, 512, 1, 1]
    avgpool               [N, 512, 1, 1]
    linear    512 -> 10   [N, 10]
    ========  ==========  ===============
    """

    def __init__(self, in_channels: int = 3, num_classes: int | None = None, *,
                 n_classes: int | None = None) -> None:
        """``num_classes`` (default 10; alias ``n_classes``) output logits."""
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "VGG", default=10)
        self.features = nn.Sequential()
        plan = [("conv1", 64), ("maxpool1", 0), ("conv2", 128), ("maxpool2", 0),
                ("conv3_a", 256), ("conv3_b", 256), ("maxpool3", 0),
                ("conv4_a", 512), ("conv4_b", 512), ("maxpool4", 0),
                ("conv5_a", 512), ("conv5_b", 512), ("maxpool5", 0)]  # fmt: skip
        width = in_channels
        for name, channels in plan:
            if name.startswith("conv"):
                self.features.add_module(name, conv_bn_relu(width, channels))
                width = channels
            else:
                self.features.add_module(name, maxpool_3s2p1())
        self.avgpool = nn.AvgPool2d(kernel_size=1, stride=1, padding=0)
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.linear(x.flatten(1))


class PreActBlock(nn.Module):
    """Simplified pre-activation ResNet block: ``x + Conv3x3(ReLU(BN(x)))``.

    Shapes: ``[N, C, H, W] -> [N, C, H, W]`` (identity skip, so channels are unchanged).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(self.relu(self.bn(x)))


@register_model("preact_vgg13", input_shape=(3, 32, 32))
class PreActVGG13(nn.Module):
    """UvA DL practical 1 (2020) ConvNet, Figure 5: VGG13 with pre-activation skips.

    Our reading of Figure 5 (text extracted from the 2020 ``assignment_1.pdf``): ``conv`` rows
    are a single 2D convolution *without* activation; ``PreAct`` rows are the block
    ``x + Conv3x3(ReLU(BN(x)))`` drawn on the right of the figure; the 1x1 ``conv`` rows
    "before the MaxPool operations are used to upscale the channel dimension"; every maxpool
    is 3x3 stride 2 pad 1; "a BatchNorm layer and ReLU activation is applied before the final
    linear layer". There is no ``conv`` before maxpool4/maxpool5 (channels stay 512).

    ==========  ======  ======  =====  ==========  ================
    name        kernel  stride  pad    channels    output shape
    ==========  ======  ======  =====  ==========  ================
    conv0       3x3     1       1      3 -> 64     [N, 64, 32, 32]
    PreAct1     3x3     1       1      64          [N, 64, 32, 32]
    conv1       1x1     1       0      64 -> 128   [N, 128, 32, 32]
    maxpool1    3x3     2       1                  [N, 128, 16, 16]
    PreAct2_a   3x3     1       1      128         [N, 128, 16, 16]
    PreAct2_b   3x3     1       1      128         [N, 128, 16, 16]
    conv2       1x1     1       0      128 -> 256  [N, 256, 16, 16]
    maxpool2    3x3     2       1                  [N, 256, 8, 8]
    PreAct3_a   3x3     1       1      256         [N, 256, 8, 8]
    PreAct3_b   3x3     1       1      256         [N, 256, 8, 8]
    conv3       1x1     1       0      256 -> 512  [N, 512, 8, 8]
    maxpool3    3x3     2       1                  [N, 512, 4, 4]
    PreAct4_a   3x3     1       1      512         [N, 512, 4, 4]
    PreAct4_b   3x3     1       1      512         [N, 512, 4, 4]
    maxpool4    3x3     2       1                  [N, 512, 2, 2]
    PreAct5_a   3x3     1       1      512         [N, 512, 2, 2]
    PreAct5_b   3x3     1       1      512         [N, 512, 2, 2]
    maxpool5    3x3     2       1                  [N, 512, 1, 1]
    BN, ReLU                                       [N, 512, 1, 1]
    linear                             512 -> 10   [N, 10]
    ==========  ======  ======  =====  ==========  ================
    """

    def __init__(self, in_channels: int = 3, num_classes: int | None = None, *,
                 n_classes: int | None = None) -> None:
        """``num_classes`` (default 10; alias ``n_classes``) output logits."""
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "PreActVGG13", default=10)
        f = self.features = nn.Sequential()
        f.add_module("conv0", nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1))
        f.add_module("PreAct1", PreActBlock(64))
        f.add_module("conv1", nn.Conv2d(64, 128, kernel_size=1, stride=1, padding=0))
        f.add_module("maxpool1", maxpool_3s2p1())
        for stage, (width, widen) in enumerate([(128, 256), (256, 512), (512, 0), (512, 0)], 2):
            f.add_module(f"PreAct{stage}_a", PreActBlock(width))
            f.add_module(f"PreAct{stage}_b", PreActBlock(width))
            if widen:
                f.add_module(f"conv{stage}", nn.Conv2d(width, widen, kernel_size=1))
            f.add_module(f"maxpool{stage}", maxpool_3s2p1())
        self.head = nn.Sequential(nn.BatchNorm2d(512), nn.ReLU(), nn.Flatten())
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.head(self.features(x)))
