"""Small CNNs for single characters (MNIST, EMNIST, chars36), sized for a 2-core CPU.

Both take one-channel images ``[N, 1, S, S]`` with ``S`` = 28 (MNIST/EMNIST) or 32 (chars36,
NIST36-style) and return logits ``[N, num_classes]`` (``n_classes=`` is accepted too).
BatchNorm after every convolution (so a one-cycle schedule with a high learning rate
converges in a few epochs), no bias before BN, pooling early so most of the work happens on
14x14 and 7x7 maps.

- :class:`CharCNN` -- two stages of two conv-BN-ReLU layers and a 2x2 max-pool, one more
  conv-BN-ReLU stage, global average pooling, dropout, one linear layer. Works at any input
  size (global pooling).
- :class:`CharFC` -- hw5 Q7.1.1's fully connected network, ``in -> hidden sigmoid -> out``
  (the softmax lives in the loss), Xavier-initialised like the NumPy version.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from neuralab.models.registry import num_classes_arg, register_model


def _conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    """Conv 3x3 pad 1 (no bias) -> BatchNorm2d -> ReLU; ``[N, c_in, H, W] -> [N, c_out, H, W]``."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


@register_model("char_cnn", input_shape=(1, 28, 28))
class CharCNN(nn.Module):
    """Character CNN.

    ====================================================  =====================
    layer                                                 output shape (S = 28)
    ====================================================  =====================
    conv-BN-ReLU 1->w1, conv-BN-ReLU w1->w1, MaxPool 2    [N, w1, 14, 14]
    conv-BN-ReLU w1->w2, conv-BN-ReLU w2->w2, MaxPool 2   [N, w2, 7, 7]
    conv-BN-ReLU w2->w3, conv-BN-ReLU w3->w3              [N, w3, 7, 7]
    global average pool, Dropout(p), Linear w3->K         [N, K]
    ====================================================  =====================

    Default widths ``(32, 64, 128)``: 287k parameters, about 21 MMAC per 28x28 image.
    ``K = num_classes`` (default 10).
    """

    def __init__(self, in_channels: int = 1, num_classes: int | None = None,
                 widths: Sequence[int] = (32, 64, 128), dropout: float = 0.2, *,
                 n_classes: int | None = None) -> None:
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "CharCNN", default=10)
        w1, w2, w3 = (int(w) for w in widths)
        self.features = nn.Sequential(
            _conv_bn(in_channels, w1), _conv_bn(w1, w1), nn.MaxPool2d(2),
            _conv_bn(w1, w2), _conv_bn(w2, w2), nn.MaxPool2d(2),
            _conv_bn(w2, w3), _conv_bn(w3, w3),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(w3, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@register_model("char_fc", input_shape=(1024,))
class CharFC(nn.Module):
    """hw5 Q7.1.1: ``Flatten -> Linear(n_inputs, hidden) -> sigmoid -> Linear(hidden, K)``.

    Xavier-uniform weights (``U(-sqrt(6 / (fan_in + fan_out)), +...)``, hw5's
    ``initialize_weights``) and zero biases. Input ``[N, ...]`` with ``n_inputs`` values per
    example; logits ``[N, K]``, ``K = num_classes`` (default 36; ``n_classes=`` is accepted
    too); the softmax is in the cross-entropy loss.
    """

    def __init__(self, n_inputs: int = 1024, hidden: int = 64, num_classes: int | None = None,
                 *, n_classes: int | None = None) -> None:
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "CharFC", default=36)
        self.hidden = nn.Linear(n_inputs, hidden)
        self.out = nn.Linear(hidden, num_classes)
        for layer in (self.hidden, self.out):
            bound = math.sqrt(6.0 / (layer.in_features + layer.out_features))
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.sigmoid(self.hidden(x.flatten(1))))
