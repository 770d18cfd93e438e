"""Images to the rows a NumPy network takes, and the fitted statistics that do it.

The NumPy engine's networks take float rows ``[N, D]``. :class:`VectorInputs` is the whole
path from uint8 images ``[N, H, W, C]`` (or gray ``[N, H, W]``) to those rows, in this order::

    rows = flatten(images) * scale          # H, W, C order, or C, H, W with channels_first
    rows = rows - subtract                  # e.g. the training set's mean image   [D]
    rows = rows / divide                    # e.g. per-channel stds, repeated       [D]
    rows = (rows - whiten_mean) @ projection  # PCA whitening                      [D, k]

Each statistic is optional and fitted on training images by the experiment that uses it; the
object is plain data, so a run saves it (:meth:`save`) next to its weights and
:func:`neuralab.load_run` feeds new images through exactly the same steps (:meth:`load`).

    >>> import numpy as np
    >>> images = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
    >>> inputs = VectorInputs(size=2, channels=3, channels_first=True)
    >>> inputs(images).shape
    (2, 12)
    >>> inputs = inputs.fit_mean_image(images)
    >>> float(abs(inputs(images).mean(axis=0)).max())
    0.0
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from neuralab.errors import NeuralabError

_ARRAYS = ("subtract", "divide", "whiten_mean", "projection")


def to_vectors(images: np.ndarray, *, channels_first: bool = False, scale: float = 1.0 / 255,
               dtype=np.float32) -> np.ndarray:
    """uint8 images ``[N, H, W, C]`` -> float rows ``[N, H*W*C]`` times ``scale``.

    ``channels_first=True`` flattens in ``C, H, W`` order (as UvA's ``cifar10_utils`` does after
    its NCHW transpose); otherwise in ``H, W, C`` order (grey images: row-major pixels).
    """
    x = images.transpose(0, 3, 1, 2) if channels_first else images
    out = np.ascontiguousarray(x.reshape(len(x), -1), dtype=dtype)
    if scale != 1.0:
        out *= out.dtype.type(scale)
    return out


@dataclass(frozen=True, eq=False)
class VectorInputs:
    """uint8 images ``[N, size, size, channels]`` -> float32 rows (see the module docstring).

    ``size``/``channels`` say what images the network was trained on (new images are resized
    and converted to them before this is applied; :func:`neuralab.predict` does it).
    """

    size: int
    channels: int
    channels_first: bool = False
    scale: float = 1.0 / 255
    subtract: np.ndarray | None = None   # [D]
    divide: np.ndarray | None = None     # [D]
    whiten_mean: np.ndarray | None = None  # [D]
    projection: np.ndarray | None = None   # [D, k]

    @property
    def n_inputs(self) -> int:
        """Width of the rows the network takes (``k`` when whitened, else ``H*W*C``)."""
        if self.projection is not None:
            return int(self.projection.shape[1])
        return self.size * self.size * self.channels

    def flatten(self, images: np.ndarray) -> np.ndarray:
        """Only the first step: flattened, scaled rows ``[N, H*W*C]``."""
        images = np.asarray(images)
        if images.ndim == 3:  # a gray batch [N, H, W]
            images = images[..., None]
        if images.ndim != 4 or images.shape[1:] != (self.size, self.size, self.channels):
            raise NeuralabError(f"expected images [N, {self.size}, {self.size}, "
                                f"{self.channels}], got {list(images.shape)}")
        return to_vectors(images, channels_first=self.channels_first, scale=self.scale)

    def __call__(self, images: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """Every step: float32 rows ``[N, n_inputs]``."""
        return self.normalize(self.flatten(images), chunk=chunk)

    def normalize(self, rows: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """The steps after :meth:`flatten` (in place where the shape is kept)."""
        if self.subtract is not None:
            rows -= self.subtract
        if self.divide is not None:
            rows /= self.divide
        if self.projection is None:
            return rows
        out = np.empty((len(rows), self.projection.shape[1]), np.float32)
        for i in range(0, len(rows), chunk):
            out[i:i + chunk] = (rows[i:i + chunk] - self.whiten_mean) @ self.projection
        return out

    def fit_mean_image(self, images: np.ndarray) -> VectorInputs:
        """A copy that subtracts the per-pixel mean of ``images`` (UvA ``cifar10_utils``,
        HLCV ``get_CIFAR10_data``); the mean is taken in float64, stored in float32."""
        rows = self.flatten(images)
        return replace(self, subtract=rows.mean(axis=0, dtype=np.float64).astype(np.float32))

    def fit_standardize(self, images: np.ndarray) -> VectorInputs:
        """A copy that subtracts each channel's mean and divides by its std (over all
        training pixels of that channel; flip-symmetric). Needs ``channels_first``."""
        if not self.channels_first:
            raise NeuralabError("standardize expects CHW-flattened rows")
        per = self.flatten(images).reshape(len(images), self.channels, -1)
        reps = per.shape[2]
        mean = np.repeat(per.mean(axis=(0, 2), dtype=np.float64), reps).astype(np.float32)
        std = np.repeat(per.std(axis=(0, 2), dtype=np.float64), reps).astype(np.float32)
        return replace(self, subtract=mean, divide=std)

    def with_whitening(self, mean: np.ndarray, projection: np.ndarray) -> VectorInputs:
        """A copy that ends with ``(rows - mean) @ projection`` (``[D]``, ``[D, k]``)."""
        return replace(self, whiten_mean=np.asarray(mean, np.float32),
                       projection=np.asarray(projection, np.float32))

    # ------------------------------------------------------------------ saved with a run

    def to_dict(self) -> dict:
        """The scalar settings (the arrays go to :meth:`save`'s ``.npz``)."""
        return {"size": self.size, "channels": self.channels,
                "channels_first": self.channels_first, "scale": self.scale}

    def save(self, path: str | Path) -> Path:
        """Write settings and statistics to ``path`` (``.npz``) atomically."""
        from neuralab.scratch.training import save_checkpoint

        arrays = {k: getattr(self, k) for k in _ARRAYS if getattr(self, k) is not None}
        return save_checkpoint(path, arrays, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> VectorInputs:
        """What :meth:`save` wrote."""
        from neuralab.scratch.training import load_checkpoint

        arrays, meta = load_checkpoint(path)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in meta.items() if k in known},
                   **{k: arrays[k] for k in _ARRAYS if k in arrays})

    def __repr__(self) -> str:
        steps = [k for k in ("subtract", "divide") if getattr(self, k) is not None]
        steps += ["whiten"] if self.projection is not None else []
        order = "CHW" if self.channels_first else "HWC"
        return (f"VectorInputs({self.size}x{self.size}x{self.channels} {order} rows x "
                f"{self.scale:g}{''.join(f', {s}' for s in steps)} -> {self.n_inputs})")

