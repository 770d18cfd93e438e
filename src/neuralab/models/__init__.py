"""PyTorch model zoo: named builders, their input shapes, and summaries.

>>> model = build_model("simple_cnn", num_classes=3)
>>> input_shape("simple_cnn")
(3, 32, 32)
>>> print(summary("simple_cnn"))  # doctest: +SKIP

Each builder registers itself with ``@register_model(name, input_shape=..., **defaults)``
beside its definition (:mod:`neuralab.models.registry`); importing its module below is what
registers it, so **a new model = one module + one import line here** (or one
``register_lazy`` line for a module that should load only when used, as the transfer
backbones, which need torchvision). ``build_model(name,
**kwargs)`` passes ``kwargs`` on to the builder, overriding the registered defaults. Every
classifier takes ``num_classes`` (the handouts' ``n_classes`` works too).
"""

from __future__ import annotations

from torch import nn

from neuralab.errors import NeuralabError

# Importing a module registers its models; ``model_names()`` lists them in this order.
# isort: off
from neuralab.models import mlp, cnn, fastcnn, airbench, rnn  # noqa: F401
from neuralab.models import autoencoder, charcnn  # noqa: F401
# isort: on
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
from neuralab.models.registry import (
    REGISTRY,
    Entry,
    get_entry,
    get_model,
    list_models,
    register_lazy,
    register_model,
)
from neuralab.models.rnn import LSTM, RNN_DEFAULTS, VanillaRNN

# torchvision's backbones and the Flowers-17 scratch net: their module (and torchvision, about a
# second to import) loads when one of them is first built or looked up
register_lazy("neuralab.models.transfer", "resnet18", "squeezenet1_1", "efficientnet_lite0",
              "scratch_cnn")


def model_names() -> list[str]:
    """Registered model names, in registration order (torchvision's ``list_models``)."""
    return list_models()


def build_model(name: str, **kwargs) -> nn.Module:
    """A fresh model ``name`` built with its defaults updated by ``kwargs``
    (:func:`neuralab.models.registry.get_model`)."""
    return get_model(name, **kwargs)


def input_shape(name: str) -> tuple[int, ...]:
    """Shape of one example (no batch dimension) for model ``name`` with its defaults."""
    return get_entry(name).input_shape


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
    "RNN_DEFAULTS",
    "VGG",
    "AirbenchNet",
    "Autoencoder",
    "CNNBest",
    "CharCNN",
    "CharFC",
    "CustomLayerNormManualModule",
    "Entry",
    "LayerNormFunction",
    "LayerNormModule",
    "PreActVGG13",
    "SimpleCNN",
    "VanillaRNN",
    "build_model",
    "get_model",
    "gradcheck_rows",
    "input_shape",
    "list_models",
    "model_names",
    "register_lazy",
    "register_model",
    "summary",
]
