"""The airbench CIFAR-10 network (Keller Jordan's airbench94, after tysam-code's hlb-CIFAR10):
the fastest known recipe to ~94% on CIFAR-10, here in float32 so that it also runs on a CPU.

===========================================================  ======================
layer                                                         output shape
===========================================================  ======================
whiten: conv k x k (k=2, no pad) 3 -> 2*3*k*k, frozen, GELU   [N, 24, 31, 31]
ConvGroup 24 -> w1: conv, MaxPool 2, BN, GELU, conv, BN, GELU  [N, w1, 15, 15]
ConvGroup w1 -> w2                                            [N, w2, 7, 7]
ConvGroup w2 -> w3                                            [N, w3, 3, 3]
MaxPool 3, Linear w3 -> K (no bias), / w3                     [N, K]
===========================================================  ======================

Default widths ``(64, 256, 256)``: 118M multiply-adds per 32x32 image forward. ``K =
num_classes`` (10; ``n_classes=`` is accepted too); ``in_channels`` (3) sets the whitening
layer's input channels C and its width ``2 * C * k * k``.

What makes it train in a few epochs:

* **Patch whitening.** The first layer's 24 filters are fixed before training to the
  eigenvectors ``v_i`` of the 2x2x3 patch covariance of training images, scaled by
  ``1 / sqrt(lambda_i + eps)``, together with their negatives: the layer outputs decorrelated,
  unit-variance patch coordinates (and, after GELU, both signs of each). Only its bias trains.
* **Identity-initialised convolutions.** Each 3x3 conv starts as PyTorch's default plus a
  Dirac delta on its first ``c_in`` filters, so an untrained group passes its input through.
* **BatchNorm with frozen scale** (only the shift trains), running-stat momentum 0.4 and a tiny
  eps; the head divides its logits by the width so a high learning rate stays stable.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.models.registry import num_classes_arg, register_model


class FrozenScaleBatchNorm(nn.BatchNorm2d):
    """``BatchNorm2d`` whose scale ``gamma`` stays 1 (not trained); only the shift ``beta``
    learns. ``momentum`` is PyTorch's (the weight of the newest batch in the running stats)."""

    def __init__(self, num_features: int, momentum: float = 0.4, eps: float = 1e-12) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.weight.requires_grad_(False)


class DiracConv(nn.Conv2d):
    """3x3 ``same`` convolution without bias, initialised as PyTorch's default plus an identity
    (Dirac) kernel on the first ``min(c_in, c_out)`` output channels."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, c_out, kernel_size=3, padding=1, bias=False)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        w = self.weight.data
        nn.init.dirac_(w[: w.size(1)])


class AirbenchGroup(nn.Module):
    """``conv -> MaxPool 2 -> BN -> GELU -> conv -> BN -> GELU``;
    ``[N, c_in, H, W] -> [N, c_out, H // 2, W // 2]``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = DiracConv(c_in, c_out)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = FrozenScaleBatchNorm(c_out)
        self.conv2 = DiracConv(c_out, c_out)
        self.norm2 = FrozenScaleBatchNorm(c_out)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm1(self.pool(self.conv1(x))))
        return self.act(self.norm2(self.conv2(x)))


@register_model("airbench", input_shape=(3, 32, 32))
class AirbenchNet(nn.Module):
    """airbench94's network; see the module docstring. Call :meth:`init_whiten` with
    normalised training images before training (the experiment does).

    Shapes: ``[N, in_channels, H, W] -> [N, num_classes]``.
    """

    def __init__(self, widths: Sequence[int] = (64, 256, 256), whiten_kernel: int = 2,
                 num_classes: int | None = None, in_channels: int = 3, *,
                 n_classes: int | None = None) -> None:
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "AirbenchNet", default=10)
        k = whiten_kernel
        whiten_width = 2 * in_channels * k * k
        self.whiten = nn.Conv2d(in_channels, whiten_width, k, padding=0, bias=True)
        self.whiten.weight.requires_grad_(False)
        groups, c = [], whiten_width
        for w in widths:
            groups.append(AirbenchGroup(c, w))
            c = w
        self.layers = nn.Sequential(nn.GELU(), *groups, nn.MaxPool2d(3))
        self.head = nn.Linear(c, num_classes, bias=False)
        with torch.no_grad():
            self.head.weight.mul_(1.0 / self.head.weight.std())

    @torch.no_grad()
    def init_whiten(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the whitening filters from ``images`` ``[N, 3, H, W]`` (normalised).

        With ``Sigma = V diag(lambda) V^T`` the covariance of all k x k patches (flattened to
        3k^2 vectors), the filters are ``+-v_i / sqrt(lambda_i + eps)``: each output channel is
        one decorrelated, unit-variance patch coordinate.
        """
        c, (h, w) = images.shape[1], self.whiten.weight.shape[2:]
        patches = images.float().unfold(2, h, 1).unfold(3, w, 1)  # [N, C, H', W', h, w]
        flat = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * h * w)
        cov = flat.T @ flat / len(flat)
        eigenvalues, eigenvectors = torch.linalg.eigh(cov)
        scaled = eigenvectors.T.reshape(-1, c, h, w) / torch.sqrt(eigenvalues + eps).view(-1, 1,
                                                                                          1, 1)
        self.whiten.weight.copy_(torch.cat((scaled, -scaled)).to(self.whiten.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(F.conv2d(x, self.whiten.weight, self.whiten.bias))
        x = x.flatten(1)
        return self.head(x) / x.size(1)
