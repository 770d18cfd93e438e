"""PyTorch model zoo: a name -> constructor registry, input shapes, and summaries.

>>> model = build_model("simple_cnn")
>>> input_shape("simple_cnn")
(3, 32, 32)
>>> print(summary("simple_cnn"))  # doctest: +SKIP

``build_model(name, **kwargs)`` passes ``kwargs`` on to the constructor, overriding the
defaults listed in :data:`REGISTRY`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from neuralab.errors import NeuralabError
from neuralab.models.airbench import AirbenchNet
from neuralab.models.autoencoder import Autoencoder
from neuralab.models.charcnn import CharCNN, CharFC
from neuralab.models.cnn import VGG, PreActVGG13, SimpleCNN
from neuralab.models.fastcnn import CNNA, CNNB, CNNBest
from neuralab.models.layernorm import (
    CustomLayerNormManualModule,
    LayerNormFunction,
    LayerNormModule,
    gradcheck_rows,
)
from neuralab.models.mlp import MLP
from neuralab.models.rnn import LSTM, VanillaRNN


@dataclass(frozen=True)
class Entry:
    """How to build one named model: constructor, default arguments, one example's shape."""

    build: Callable[..., nn.Module]
    input_shape: tuple[int, ...]
    defaults: dict = field(default_factory=dict)


def _transfer(name: str) -> Callable[..., nn.Module]:
    """Builder of a pretrained backbone's transfer architecture (random weights: shapes and
    trainable counts for ``summary``; load ImageNet weights with ``transfer.pretrained``)."""

    def build(num_classes: int = 10, trainable: str = "default") -> nn.Module:
        from neuralab.models.transfer import build_transfer

        return build_transfer(name, num_classes, trainable)

    build.__name__ = f"{name}_transfer"
    return build


RNN_DEFAULTS = {"seq_length": 10, "input_dim": 1, "num_hidden": 128, "num_classes": 10}

REGISTRY: dict[str, Entry] = {
    "mlp": Entry(MLP, (3 * 32 * 32,), {"n_inputs": 3072, "n_hidden": [100], "n_classes": 10}),
    "simple_cnn": Entry(SimpleCNN, (3, 32, 32)),
    "vgg": Entry(VGG, (3, 32, 32)),
    "preact_vgg13": Entry(PreActVGG13, (3, 32, 32)),
    "cnn_a": Entry(CNNA, (3, 32, 32)),
    "cnn_b": Entry(CNNB, (3, 32, 32)),
    "cnn_best": Entry(CNNBest, (3, 32, 32)),
    "airbench": Entry(AirbenchNet, (3, 32, 32)),
    "vanilla_rnn": Entry(VanillaRNN, (10, 1), RNN_DEFAULTS),
    "lstm": Entry(LSTM, (10, 1), RNN_DEFAULTS),
    "autoencoder": Entry(Autoencoder, (1024,)),
    "resnet18": Entry(_transfer("resnet18"), (3, 224, 224)),
    "squeezenet1_1": Entry(_transfer("squeezenet1_1"), (3, 224, 224)),
    "efficientnet_lite0": Entry(_transfer("efficientnet_lite0"), (3, 224, 224)),
    "char_cnn": Entry(CharCNN, (1, 28, 28)),
    "char_fc": Entry(CharFC, (1024,)),
}


def model_names() -> list[str]:
    """Registered model names, in registry order."""
    return list(REGISTRY)


def _entry(name: str) -> Entry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise NeuralabError(
            f"unknown model {name!r}; valid names: {', '.join(model_names())}"
        ) from None


def build_model(name: str, **kwargs) -> nn.Module:
    """A fresh model ``name`` built with its defaults updated by ``kwargs``."""
    entry = _entry(name)
    arguments = {**entry.defaults, **kwargs}
    try:
        inspect.signature(entry.build).bind(**arguments)
    except TypeError as err:
        raise NeuralabError(f"cannot build model {name!r} with {kwargs}: {err}") from None
    return entry.build(**arguments)


def input_shape(name: str) -> tuple[int, ...]:
    """Shape of one example (no batch dimension) for model ``name`` with its defaults."""
    return _entry(name).input_shape


def summary(name_or_model: str | nn.Module, input_size: tuple[int, ...] | None = None) -> str:
    """torchinfo table (per-layer output shapes, parameter counts) as a string.

    ``name_or_model`` is a registry name or a model instance; for an instance whose class is
    not registered, pass ``input_size`` (one example's shape, without the batch dimension).
    """
    import torchinfo

    if isinstance(name_or_model, str):
        model, shape = build_model(name_or_model), input_shape(name_or_model)
    else:
        model = name_or_model
        shape = input_size or next(
            (e.input_shape for e in REGISTRY.values() if type(model) is e.build), None
        )
        if shape is None:
            raise NeuralabError(
                f"summary of an unregistered {type(model).__name__} needs input_size"
            )
    if input_size is not None:
        shape = input_size
    stats = torchinfo.summary(
        model,
        input_size=(1, *shape),
        col_names=("output_size", "num_params"),
        depth=3,
        verbose=0,
        device="cpu",
    )
    return str(stats)


__all__ = [
    "CNNA",
    "CNNB",
    "LSTM",
    "MLP",
    "REGISTRY",
    "VGG",
    "Autoencoder",
    "CNNBest",
    "CustomLayerNormManualModule",
    "LayerNormFunction",
    "LayerNormModule",
    "PreActVGG13",
    "SimpleCNN",
    "VanillaRNN",
    "build_model",
    "gradcheck_rows",
    "input_shape",
    "model_names",
    "summary",
]
