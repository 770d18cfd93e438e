"""Seeing inside a trained network: first-layer filters, activation maps and Grad-CAM.

The computations here only run a model forward (and, for Grad-CAM, backward to one layer's
activations); nothing trains. Layers are named as in ``model.named_modules()``; models from
:mod:`neuralab.models.transfer` name their first convolution and last convolutional stage
(``FIRST_CONV``/``LAST_CONV``), any other model falls back to its first and last ``Conv2d``.

Grad-CAM (Selvaraju et al. 2017): for class ``c`` and the activations ``A`` (``[K, h, w]``)
of a convolutional layer, ``alpha_k = mean_ij d y_c / d A_kij`` and
``cam = ReLU(sum_k alpha_k A_k)``, upsampled (bilinear) to the input's size and divided by
its maximum, so every map lies in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuralab.errors import NeuralabError
from neuralab.viz.common import new_figure


# --------------------------------------------------------------------------- layers
def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """(name, module) of the model's first convolution."""
    name = getattr(model, "FIRST_CONV", "")
    if name:
        return name, model.get_submodule(name)
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise NeuralabError(f"{type(model).__name__} has no convolution layer")


def last_conv(model: nn.Module) -> tuple[str, nn.Module]:
    """(name, module) of the model's last convolutional stage (Grad-CAM's usual layer)."""
    name = getattr(model, "LAST_CONV", "")
    if name:
        return name, model.get_submodule(name)
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not found:
        raise NeuralabError(f"{type(model).__name__} has no convolution layer")
    return found[-1]


def layer(model: nn.Module, name: str | None) -> tuple[str, nn.Module]:
    """The named submodule (``None``: the last convolutional stage)."""
    if not name:
        return last_conv(model)
    try:
        return name, model.get_submodule(name)
    except AttributeError:
        convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        raise NeuralabError(f"{type(model).__name__} has no layer {name!r}; its convolutions: "
                            f"{', '.join(convs[:8])}{' ...' if len(convs) > 8 else ''}") from None


def one_per_class(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of ``n`` samples to show: the first of each class (in class order), then the
    earliest others."""
    labels = np.asarray(labels)
    first = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    taken = set(first)
    rest = [i for i in range(min(len(labels), n + len(first))) if i not in taken]
    return np.array((first + rest)[:n], dtype=np.int64)


# --------------------------------------------------------------------------- computations
class _Reached(Exception):
    """Raised by a forward hook to stop the forward pass once the wanted output is captured."""


def activations(model: nn.Module, x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """The output of ``module`` when ``model`` runs on ``x`` in eval mode.

    The forward pass stops at ``module``: the layers after it never run, so any image size
    that the layers up to ``module`` accept works (e.g. a 224 px photo through the first
    convolution of a 32 px CIFAR network, whose classifier would refuse it).
    """
    captured: list[torch.Tensor] = []

    def hook(_m, _i, out):
        captured.append(out.detach())
        raise _Reached

    handle = module.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    except _Reached:
        pass
    finally:
        handle.remove()
        model.train(was_training)
    if not captured:
        raise RuntimeError("the module was not reached by the forward pass")
    return captured[-1]


def grad_cam(model: nn.Module, x: torch.Tensor, module: nn.Module,
             target: int | Sequence[int] | torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM maps of ``module`` for ``target`` classes (default: the predicted ones).

    Returns ``(cam, logits)``: ``cam`` is float ``[N, H, W]`` in [0, 1] at the input's spatial
    size (all zeros where no activation speaks for the class), ``logits`` ``[N, classes]``.
    Works with frozen parameters: the input is made to require gradients.
    """
    store: dict[str, torch.Tensor] = {}

    def hook(_m, _i, out):
        out.retain_grad()
        store["a"] = out

    handle = module.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            x = x.detach().clone().requires_grad_(True)
            logits = model(x)
            if target is None:
                idx = logits.argmax(1)
            else:
                idx = torch.as_tensor(target, device=logits.device).reshape(-1)
                idx = idx.expand(len(logits)) if idx.numel() == 1 else idx
            model.zero_grad(set_to_none=True)
            logits.gather(1, idx.view(-1, 1)).sum().backward()
    finally:
        handle.remove()
        model.train(was_training)
    acts = store["a"]
    if acts.ndim != 4 or acts.grad is None:
        raise NeuralabError("Grad-CAM needs a layer with [N, C, H, W] output on the path to "
                            "the logits")
    weights = acts.grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * acts).sum(1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1)
    return (cam / peak).clamp_(0, 1), logits.detach()


# --------------------------------------------------------------------------- drawing
def _unit(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a, dtype=float)


def filter_image(weight: torch.Tensor) -> np.ndarray:
    """A first-layer filter ``[3, kh, kw]`` as an RGB picture ``[kh, kw, 3]`` in [0, 1]
    (min-max scaled over the filter's three channels together); one channel: gray."""
    w = weight.detach().float().cpu().numpy()
    return _unit(w.transpose(1, 2, 0) if w.shape[0] == 3 else w[0])


def plot_filters_and_activations(weights: torch.Tensor, maps: torch.Tensor,
                                 indices: Sequence[int], title: str = "",
                                 labels: Sequence[str] | None = None):
    """TDT4265 assignment 3 (Figure 4 style): the filters ``indices`` of the first layer on
    top, the activation each produces on the image below.

    ``weights``: ``[K, C, kh, kw]``; ``maps``: ``[K, H, W]`` (the first layer's output).
    """
    n = len(indices)
    fig, axes = new_figure(2.0 * n, 4.8, nrows=2, ncols=n, squeeze=False)
    for col, k in enumerate(indices):
        top, bottom = axes[0, col], axes[1, col]
        img = filter_image(weights[k])
        top.imshow(img, cmap=None if img.ndim == 3 else "gray", interpolation="nearest")
        top.set_title(labels[col] if labels else f"filter {k}", fontsize=9)
        bottom.imshow(maps[k].float().cpu().numpy(), cmap="gray")
        bottom.set_title(f"activation {k}", fontsize=9)
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(h_pad=1.5)
    return fig


def plot_activation_maps(maps: torch.Tensor, n: int = 10, ncols: int = 5, title: str = "",
                         first_index: int = 0):
    """The first ``n`` channels of ``maps`` ``[C, H, W]`` as gray images with their index."""
    maps = maps[:n].float().cpu().numpy()
    ncols = min(ncols, len(maps))
    nrows = -(-len(maps) // ncols)
    fig, axes = new_figure(2.0 * ncols, 2.1 * nrows + 0.3, nrows=nrows, ncols=ncols,
                           squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(maps):
            ax.imshow(maps[k], cmap="viridis", interpolation="nearest")
            ax.set_title(f"channel {first_index + k}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_gradcam(images: np.ndarray, cams: np.ndarray, titles: Sequence[str] | None = None,
                 title: str = "", ncols: int = 4, alpha: float = 0.45):
    """Each image (uint8 ``[N, H, W, 3]``) with its Grad-CAM map (``[N, H, W]`` in [0, 1])
    drawn over it as a ``jet`` heat-map; the map is resized to the image when sizes differ."""
    images = np.asarray(images)
    cams = np.asarray(cams, dtype=np.float32)
    if cams.shape[1:] != images.shape[1:3]:
        cams = F.interpolate(torch.from_numpy(cams)[:, None], size=images.shape[1:3],
                             mode="bilinear", align_corners=False)[:, 0].numpy()
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = new_figure(2.6 * ncols, 3.0 * nrows + 0.3, nrows=nrows, ncols=ncols,
                           squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = images[k]
        ax.imshow(img if img.shape[-1] == 3 else img[..., 0], cmap=None if img.shape[-1] == 3
                  else "gray")
        ax.imshow(cams[k], cmap="jet", alpha=alpha, vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(h_pad=1.2)
    return fig


def gradcam_figure(model: nn.Module, images: np.ndarray, preprocess, classes: Sequence[str],
                   labels: Sequence[int] | None = None, layer_name: str | None = None,
                   title: str = "", target: int | None = None):
    """Grad-CAM of the predicted class (or ``target``) for uint8 ``images`` ``[N, H, W, C]``,
    drawn over them with "pred (p) / true" titles. ``preprocess`` maps the uint8 batch to the
    model's input. Returns (figure, predicted classes, probabilities of those classes)."""
    name, module = layer(model, layer_name)
    device = next(model.parameters()).device
    x = preprocess(torch.as_tensor(np.ascontiguousarray(images)).to(device))
    cam, logits = grad_cam(model, x, module, target)
    prob = logits.softmax(1)
    pred = logits.argmax(1) if target is None else torch.full((len(x),), int(target))
    p_pred = prob.gather(1, pred.view(-1, 1).to(prob.device))[:, 0]
    titles = []
    for k in range(len(images)):
        t = f"{classes[int(pred[k])]} ({p_pred[k]:.2f})"
        if labels is not None:
            t += f"\ntrue: {classes[int(labels[k])]}"
        titles.append(t)
    fig = plot_gradcam(images, cam.cpu().numpy(), titles,
                       title=title or f"Grad-CAM at {name}")
    return fig, pred.cpu().numpy(), p_pred.cpu().numpy()
