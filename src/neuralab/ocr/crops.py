"""Make each detected character look like the classifier's training images.

EMNIST (measured on the ByClass test split here; the idx files are stored transposed):
28x28, white strokes on black, the character's longer side scaled to about 24 px and centred
in the frame (2-px margin; centre of mass within half a pixel of the centre), strokes about
3 px wide after thresholding at 0.5, soft antialiased edges (about 19% of pixels strictly
between 0.05 and 0.95; the defaults below give about 25% with the same ink mass on the hw5
photos). :class:`CropSpec` describes such a target; :func:`normalize_crops` turns ``bw`` +
boxes into ``[N, size, size]`` floats:

1. the ink inside the box, keeping only components that lie inside it (a neighbour's
   overhanging stroke is dropped) and are not specks (under 3% of the largest);
2. reduced to a working copy ``4 * inner`` px tall/wide (``inner = size - 2 * margin``);
3. stroke width (ink area / skeleton length) set to ``stroke`` output px: thin strokes are
   dilated, very thick ones redrawn from the skeleton;
4. padded to a square keeping the aspect ratio, area-resized to ``inner`` (antialiasing),
   placed with ``margin`` px all round, centred by box or by centre of mass;
5. polarity and orientation of the target applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from neuralab.errors import NeuralabError


@dataclass(frozen=True)
class CropSpec:
    """What the classifier was trained on.

    ``size``: output side in px. ``margin``: px of background on each side of the
    character's longer side. ``polarity``: ``"white_on_black"`` (EMNIST, ink = 1) or
    ``"black_on_white"`` (ink = 0). ``stroke``: target stroke width in output px (None keeps
    the photo's). ``center``: ``"box"`` (EMNIST) or ``"mass"`` (MNIST-style centre of mass).
    ``transpose``: True gives the raw EMNIST idx layout (transposed), False upright.
    ``blur``: gaussian sigma (output px) applied last, 0 for none.
    """

    size: int = 28
    margin: int = 2
    polarity: str = "white_on_black"
    stroke: float | None = 2.5
    center: str = "box"
    transpose: bool = False
    blur: float = 0.5

    def __post_init__(self) -> None:
        if self.size < 4 or not 0 <= 2 * self.margin < self.size - 1:
            raise NeuralabError(f"CropSpec: need size >= 4 and 2*margin < size-1, got {self}")
        if self.polarity not in ("white_on_black", "black_on_white"):
            raise NeuralabError(
                f"CropSpec.polarity must be white_on_black or black_on_white, got {self.polarity!r}"
            )
        if self.center not in ("box", "mass"):
            raise NeuralabError(f"CropSpec.center must be box or mass, got {self.center!r}")

    @property
    def inner(self) -> int:
        """Px available to the character's longer side."""
        return self.size - 2 * self.margin


EMNIST = CropSpec()
"""EMNIST-like crops, upright (transpose them yourself if the model saw raw idx images)."""


def normalize_crops(bw: np.ndarray, boxes: np.ndarray, spec: CropSpec = EMNIST) -> np.ndarray:
    """Classifier-ready character images.

    ``bw``: ``[H, W]`` float in [0, 1], ink 0 on paper 1 (as :func:`find_letters` returns).
    ``boxes``: int ``[N, 4]`` rows ``[y1, x1, y2, x2]`` in ``bw``'s coordinates.
    Returns float32 ``[N, spec.size, spec.size]`` in [0, 1].
    """
    bw = np.asarray(bw)
    if bw.ndim != 2:
        raise NeuralabError(f"bw must be a 2-D image [H, W], got shape {bw.shape}")
    boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    ink = bw < 0.5
    out = np.zeros((len(boxes), spec.size, spec.size), np.float32)
    for i, box in enumerate(boxes):
        out[i] = _one_crop(ink, box, spec)
    if spec.polarity == "black_on_white":
        out = 1.0 - out
    if spec.transpose:
        out = out.transpose(0, 2, 1).copy()
    return out


def character_mask(ink: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Bool ``[y2-y1, x2-x1]``: ink of the components lying inside ``box`` (a tolerance of a
    few px absorbs rounding from the detector's working resolution); all the ink in the box
    when no component lies wholly inside it."""
    H, W = ink.shape
    y1, x1, y2, x2 = (int(v) for v in box)
    y1, x1 = max(0, y1), max(0, x1)
    y2, x2 = min(H, y2), min(W, x2)
    if y2 <= y1 or x2 <= x1:
        return np.zeros((max(0, y2 - y1), max(0, x2 - x1)), bool)
    tol = max(2, int(np.ceil(0.04 * max(y2 - y1, x2 - x1))))
    pad = tol + 2
    Y1, X1, Y2, X2 = max(0, y1 - pad), max(0, x1 - pad), min(H, y2 + pad), min(W, x2 + pad)
    window = ink[Y1:Y2, X1:X2]
    lab, n = ndi.label(window, structure=np.ones((3, 3), bool))
    keep = np.zeros(n + 1, bool)
    for k, sl in enumerate(ndi.find_objects(lab), start=1):
        if sl is None:
            continue
        a1, b1, a2, b2 = sl[0].start + Y1, sl[1].start + X1, sl[0].stop + Y1, sl[1].stop + X1
        keep[k] = a1 >= y1 - tol and b1 >= x1 - tol and a2 <= y2 + tol and b2 <= x2 + tol
    if keep.any():  # specks: under 3% of the largest piece kept
        area = np.bincount(lab.ravel(), minlength=n + 1)
        keep &= area >= 0.03 * area[keep].max()
    mask = keep[lab][y1 - Y1 : y2 - Y1, x1 - X1 : x2 - X1]
    if not mask.any():  # nothing lies wholly inside: fall back to all the ink in the box
        mask = window[y1 - Y1 : y2 - Y1, x1 - X1 : x2 - X1].copy()
    return mask


def _load_skeletonize():
    """scikit-image's 2-D skeletonize (Zhang-Suen, ``skeletonize(mask, method="zhang")``).

    Importing ``skimage.morphology`` pulls in scipy.spatial and scipy.linalg (0.15 s on an
    idle 2-core CPU, 0.4 s on a busy one) for one function: its compiled kernel
    ``_fast_skeletonize`` is loaded from its file alone when it is there (checked against
    ``skimage.morphology.skeletonize`` by the tests), else the public function is used.
    """
    try:
        import importlib.machinery
        import importlib.util
        import sys

        import skimage

        name = "skimage.morphology._skeletonize_various_cy"
        module = sys.modules.get(name)
        if module is None:
            folder = Path(skimage.__file__).parent / "morphology"
            path = next(folder / f"_skeletonize_various_cy{suffix}"
                        for suffix in importlib.machinery.EXTENSION_SUFFIXES
                        if (folder / f"_skeletonize_various_cy{suffix}").is_file())
            loader = importlib.machinery.ExtensionFileLoader(name, str(path))
            spec = importlib.util.spec_from_file_location(name, str(path), loader=loader)
            module = importlib.util.module_from_spec(spec)
            loader.exec_module(module)
        kernel = module._fast_skeletonize

        def skeletonize(mask: np.ndarray) -> np.ndarray:
            return np.asarray(kernel(np.ascontiguousarray(mask, dtype=bool))).astype(bool)

        return skeletonize
    except Exception:  # another scikit-image layout: the public (slower to import) function
        from skimage.morphology import skeletonize

        return skeletonize


_SKELETONIZE = None


def skeletonize(mask: np.ndarray) -> np.ndarray:
    """bool skeleton of a 2-D binary ``mask`` (scikit-image's Zhang-Suen thinning)."""
    global _SKELETONIZE
    if _SKELETONIZE is None:
        _SKELETONIZE = _load_skeletonize()
    return _SKELETONIZE(mask)


def disk(radius: int) -> np.ndarray:
    """uint8 disk of ``radius``: ``x^2 + y^2 <= radius^2`` (``skimage.morphology.disk``)."""
    r = np.arange(-radius, radius + 1)
    return ((r[None, :] ** 2 + r[:, None] ** 2) <= radius**2).astype(np.uint8)


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in px of a binary character: ink area / skeleton length."""
    area = int(mask.sum())
    if area == 0:
        return 0.0
    length = int(skeletonize(mask).sum())
    return area / max(length, 1)


def _one_crop(ink: np.ndarray, box: np.ndarray, spec: CropSpec) -> np.ndarray:
    mask = character_mask(ink, box)
    if mask.size == 0 or not mask.any():
        return np.zeros((spec.size, spec.size), np.float32)
    ys, xs = np.nonzero(mask)
    mask = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    work = 4 * spec.inner  # working resolution for stroke surgery
    long_side = max(mask.shape)
    if long_side > work:
        f = work / long_side
        shape = (max(1, round(mask.shape[0] * f)), max(1, round(mask.shape[1] * f)))
        small = Image.fromarray(mask.astype(np.uint8) * 255).resize(shape[::-1], Image.BOX)
        mask = np.asarray(small) >= 96  # keep thin strokes alive
    mask = np.pad(mask, 1)
    if spec.stroke is not None:
        mask = _set_stroke(mask, spec.stroke * max(mask.shape) / spec.inner)
    return _place(mask.astype(np.float32), spec)


def _set_stroke(mask: np.ndarray, target: float) -> np.ndarray:
    """Dilate or redraw ``mask`` so its stroke width is about ``target`` px."""
    width = stroke_width(mask)
    if width <= 0:
        return mask
    if width < 0.85 * target:
        r = (target - width) / 2
        mask = np.pad(mask, int(np.ceil(r)) + 1)
        return ndi.binary_dilation(mask, structure=_disk(r))
    if width > 1.6 * target:
        skel = skeletonize(mask)
        return ndi.binary_dilation(skel, structure=_disk(max(target / 2 - 0.5, 0.5))) | skel
    return mask


def _disk(r: float) -> np.ndarray:
    ri = int(np.floor(r + 0.5))
    if ri < 1:
        return np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)
    return disk(ri).astype(bool)


def _place(img: np.ndarray, spec: CropSpec) -> np.ndarray:
    """Square-pad, resize the longer side to ``spec.inner``, put it in the frame."""
    ys, xs = np.nonzero(img > 0)
    img = img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = img.shape
    side = max(h, w)
    sq = np.zeros((side, side), np.float32)
    sq[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = img
    n = spec.inner
    small = np.asarray(Image.fromarray(sq).resize((n, n), Image.BOX), dtype=np.float32)
    if side < n:  # upscaled a tiny crop: smooth it like an antialiased stroke
        small = ndi.gaussian_filter(small, 0.5)
    out = np.zeros((spec.size, spec.size), np.float32)
    m = spec.margin
    out[m : m + n, m : m + n] = small
    if spec.center == "mass" and out.sum() > 0:
        cy, cx = ndi.center_of_mass(out)
        c = (spec.size - 1) / 2
        out = ndi.shift(out, (c - cy, c - cx), order=1, mode="constant")
    if spec.blur > 0:
        out = ndi.gaussian_filter(out, spec.blur)
    return np.clip(out, 0.0, 1.0)
