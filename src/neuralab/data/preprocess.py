"""Preprocessing written once: uint8 images -> normalised float ``[N, C, H, W]``.

Works on NumPy arrays and torch tensors alike (the result has the input's kind; a tensor stays
on its device). torch is imported only when a tensor comes in or a resize is asked for, so
``import neuralab.data`` stays torch-free.

Input layouts: uint8 (0-255) or float (0-1), ``[N, H, W, C]`` (as stored by the data layer),
``[N, C, H, W]`` (as models take it), a single image ``[H, W, C]`` / ``[C, H, W]`` (then the
result is ``[1, C, H, W]``), or gray ``[N, H, W]``. ``layout="auto"`` finds the channel axis
from the number of channels (``len(mean)``, or 1 and 3 for a 1-value mean); when both ends
could be it, uint8 means NHWC and float means NCHW. Pass ``layout="nhwc"``/``"nchw"`` to say.

>>> import numpy as np
>>> x = np.full((2, 4, 4, 3), 255, np.uint8)                       # NHWC uint8
>>> normalize(x, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)).shape       # float32 NCHW
(2, 3, 4, 4)
>>> Preprocess(mean=(0.5,), std=(0.5,), size=8, channels=3)(x[:, :, :, :1]).shape
(2, 3, 8, 8)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

LAYOUTS = ("auto", "nhwc", "nchw")
# ITU-R 601-2 luma, the weights of PIL's convert("L")
LUMA = (0.299, 0.587, 0.114)


def _is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _channel_axis(shape: tuple[int, ...], channels: tuple[int, ...], is_uint8: bool,
                  layout: str) -> str:
    if layout == "nhwc":
        return "last"
    if layout == "nchw":
        return "first"
    last, first = shape[-1] in channels, shape[1] in channels
    if last and first:
        return "last" if is_uint8 else "first"
    if last:
        return "last"
    if first:
        return "first"
    raise ValueError(f"cannot tell the channel axis of an image batch {list(shape)} for "
                     f"{' or '.join(map(str, channels))} channels; pass layout='nhwc' or "
                     "'nchw'")


def to_float_nchw(x, *, channels: int | None = None, layout: str = "auto"):
    """``x`` (see the module doc) as float32 ``[N, C, H, W]`` in [0, 1] (uint8 / 255).

    ``channels`` is the expected channel count, used only to find the channel axis (default:
    1 or 3). Returns the input's kind (NumPy array or torch tensor, same device).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    torch_in = _is_torch(x)
    if not torch_in:
        x = np.asarray(x)
    is_uint8 = str(x.dtype) in ("uint8", "torch.uint8")
    wanted = (channels,) if channels else (1, 3)
    if x.ndim == 2:                                  # one gray image [H, W]
        x = x[None, None]
    elif x.ndim == 3:
        if layout == "auto" and x.shape[-1] not in wanted and x.shape[0] not in wanted:
            x = x[:, None]                           # a gray batch [N, H, W]
        else:
            x = x[None]                              # one image [H, W, C] or [C, H, W]
    if x.ndim != 4:
        raise ValueError(f"expected images [N, H, W, C] or [N, C, H, W], got {list(x.shape)}")
    if _channel_axis(tuple(x.shape), wanted, is_uint8, layout) == "last":
        x = x.permute(0, 3, 1, 2) if torch_in else x.transpose(0, 3, 1, 2)
    if torch_in:
        import torch

        x = x.to(torch.float32)
        if is_uint8:
            x = x / 255.0
        return x.contiguous()
    x = x.astype(np.float32)
    if is_uint8:
        x /= 255.0
    return np.ascontiguousarray(x)


def _stats(x, mean: Sequence[float], std: Sequence[float], channels: int):
    if len(mean) != len(std) or len(mean) not in (1, channels):
        raise ValueError(f"{len(mean)} means and {len(std)} stds for images with {channels} "
                         "channels")
    if _is_torch(x):
        import torch

        m = torch.as_tensor(tuple(mean), dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        s = torch.as_tensor(tuple(std), dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    else:
        m = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
        s = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    return m, s


def normalize(x, mean: Sequence[float], std: Sequence[float], *, layout: str = "auto"):
    """``(x / 255 - mean) / std`` per channel as float32 ``[N, C, H, W]``.

    ``x``: uint8 (or float in [0, 1]) NHWC or NCHW (see the module doc), NumPy or torch;
    ``mean``/``std``: per channel in [0, 1] units (one value applies to every channel).
    """
    x = to_float_nchw(x, channels=len(mean) if len(mean) > 1 else None, layout=layout)
    m, s = _stats(x, mean, std, x.shape[1])
    return (x - m) / s


def denormalize(x, mean: Sequence[float], std: Sequence[float]):
    """The inverse of :func:`normalize` on float ``[N, C, H, W]``: values in [0, 1] (unclipped),
    e.g. to show a model's input."""
    m, s = _stats(x, mean, std, x.shape[1])
    return x * s + m


def convert_channels(x, channels: int):
    """Float ``[N, C, H, W]`` with ``channels`` channels: gray -> RGB repeats the plane, RGB ->
    gray uses PIL's luma weights (:data:`LUMA`)."""
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1 and channels == 3:
        if _is_torch(x):
            return x.expand(-1, 3, -1, -1).contiguous()
        return np.repeat(x, 3, axis=1)
    if c == 3 and channels == 1:
        w = np.asarray(LUMA, np.float32).reshape(1, 3, 1, 1)
        if _is_torch(x):
            import torch

            w = torch.as_tensor(w, dtype=x.dtype, device=x.device)
            return (x * w).sum(dim=1, keepdim=True)
        return (x * w).sum(axis=1, keepdims=True).astype(np.float32)
    raise ValueError(f"cannot convert {c}-channel images to {channels} channels")


def resize(x, size: int):
    """Bilinear resize of float ``[N, C, H, W]`` to ``size x size`` (antialiased when
    shrinking; a no-op when already that size). Uses torch, also for NumPy input."""
    if tuple(x.shape[-2:]) == (size, size):
        return x
    import torch
    import torch.nn.functional as F

    torch_in = _is_torch(x)
    t = x if torch_in else torch.from_numpy(np.ascontiguousarray(x))
    shrink = t.shape[-1] > size or t.shape[-2] > size
    out = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False,
                        antialias=shrink)
    return out if torch_in else out.numpy()


@dataclass(frozen=True)
class Preprocess:
    """The one preprocessing callable: images -> float32 ``[N, C, H, W]`` ready for a model.

    Steps: to float in [0, 1] (uint8 / 255) channels-first; to ``channels`` channels (None:
    keep); bilinear resize to ``size x size`` (None: keep); ``crop`` px cut from every side
    (a centre crop, e.g. EMNIST's 28 px frame inside chars36's 32 px); ``(x - mean) / std`` per
    channel.
    ``mean``/``std`` are in [0, 1] units, one value or one per (output) channel. Plain data:
    :meth:`to_dict` / :meth:`from_dict` record it in a run folder. Get one with the dataset's
    statistics from ``neuralab.data.info(name).preprocess()``.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    size: int | None = None
    channels: int | None = None
    crop: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if len(self.mean) != len(self.std) or not self.mean:
            raise ValueError(f"Preprocess needs as many means as stds, got {self.mean} and "
                             f"{self.std}")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"Preprocess stds must be positive, got {self.std}")
        if self.channels not in (None, 1, 3):
            raise ValueError(f"Preprocess channels must be 1, 3 or None, got {self.channels}")
        if self.channels and len(self.mean) not in (1, self.channels):
            raise ValueError(f"{len(self.mean)} means for {self.channels} channels")
        if self.size is not None and int(self.size) < 1:
            raise ValueError(f"Preprocess size must be positive, got {self.size}")
        if int(self.crop) < 0 or (self.size is not None and 2 * int(self.crop) >= int(self.size)):
            raise ValueError(f"Preprocess crop must be >= 0 and leave pixels, got {self.crop}")

    def __call__(self, x, *, layout: str = "auto"):
        """``x``: uint8 or [0, 1] float images, NHWC or NCHW, NumPy or torch (module doc)."""
        hint = None if self.channels else (len(self.mean) if len(self.mean) > 1 else None)
        x = to_float_nchw(x, channels=hint, layout=layout)
        if self.channels:
            x = convert_channels(x, self.channels)
        if self.size is not None:
            x = resize(x, int(self.size))
        if self.crop:
            c = int(self.crop)
            x = x[:, :, c:x.shape[2] - c, c:x.shape[3] - c]
        m, s = _stats(x, self.mean, self.std, x.shape[1])
        return (x - m) / s

    def invert(self, x):
        """Normalised ``[N, C, H, W]`` back to [0, 1] (resize and channels are not undone)."""
        return denormalize(x, self.mean, self.std)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Preprocess:
        return cls(mean=tuple(d["mean"]), std=tuple(d["std"]), size=d.get("size"),
                   crop=int(d.get("crop", 0)),
                   channels=d.get("channels"))
