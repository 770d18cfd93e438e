"""Synthetic photos of handwritten-looking pages with exact ground truth.

:func:`render_page` lays characters out line by line (per-character size, baseline, slant
and rotation jitter), rotates the whole page, lights it unevenly and adds sensor noise; it
knows every character's box because it renders a label image alongside the ink and rotates
both. Glyphs come from a *glyph source*: ``glyphs(char, height_px, rng) -> ink [h, w]``
float in [0, 1] (1 = ink); :class:`FontGlyphs` draws them with a TrueType font, and tests
plug in real EMNIST handwriting the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage as ndi

GlyphSource = Callable[[str, int, np.random.Generator], np.ndarray]


@dataclass
class SynthPage:
    """A rendered page. ``image``: uint8 ``[H, W, 3]``. ``boxes``: int64 ``[N, 4]`` true
    ``[y1, x1, y2, x2]`` of the N non-space characters in reading order. ``chars``: those N
    characters. ``lines``: the text lines. ``text``: ``"\\n".join(lines)``."""

    image: np.ndarray
    boxes: np.ndarray
    chars: list[str]
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def line_lengths(self) -> list[int]:
        """Non-space characters per line."""
        return [len(ln.replace(" ", "")) for ln in self.lines]


class FontGlyphs:
    """Glyph source drawing characters with a TrueType font (Pillow's bundled default
    unless ``font`` names a .ttf), each slightly rotated (``rotate`` degrees at most),
    slanted (``shear``) and thickened by ``thicken`` px."""

    def __init__(
        self,
        font: str | Path | None = None,
        rotate: float = 6.0,
        shear: float = 0.15,
        thicken: int = 0,
    ) -> None:
        self.font = font
        self.rotate, self.shear, self.thicken = rotate, shear, thicken
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}

    def _font(self, size: int):
        if size not in self._fonts:
            if self.font is None:
                self._fonts[size] = ImageFont.load_default(size=size)
            else:
                self._fonts[size] = ImageFont.truetype(str(self.font), size=size)
        return self._fonts[size]

    def __call__(self, ch: str, height: int, rng: np.random.Generator) -> np.ndarray:
        size = max(8, int(round(height * 1.38)))  # cap height is ~0.72 em
        canvas = Image.new("L", (3 * size, 3 * size), 0)
        ImageDraw.Draw(canvas).text(
            (size, 2 * size), ch, font=self._font(size), fill=255, anchor="ls"
        )
        sh = rng.uniform(-self.shear, self.shear)
        c = 1.5 * size
        canvas = canvas.transform(
            canvas.size, Image.AFFINE, (1, sh, -sh * c, 0, 1, 0), resample=Image.BILINEAR
        )
        canvas = canvas.rotate(rng.uniform(-self.rotate, self.rotate), Image.BILINEAR)
        ink = np.asarray(canvas, dtype=np.float32) / 255
        if self.thicken > 0:
            ink = ndi.grey_dilation(ink, size=(self.thicken + 1, self.thicken + 1))
        return ink


def _tight(ink: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(ink > 0.5)
    if len(ys) == 0:
        return ink[:0, :0]
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def render_page(
    lines: list[str] | str,
    glyphs: GlyphSource | None = None,
    char_px: int = 48,
    letter_gap: tuple[float, float] = (0.15, 0.4),
    word_gap: float = 1.1,
    line_pitch: float = 1.9,
    rotate: float = 0.0,
    gradient: float = 0.35,
    noise: float = 0.02,
    ink: float = 0.65,
    size_jitter: float = 0.08,
    baseline_jitter: float = 0.06,
    seed: int = 0,
) -> SynthPage:
    """Render ``lines`` (a list of strings or one ``\\n``-separated string).

    Sizes are in units of ``char_px`` (the character height): gaps between letters are
    drawn from ``letter_gap``, word gaps are ``word_gap`` wide, lines ``line_pitch`` apart.
    ``rotate``: page rotation in degrees (counter-clockwise). ``gradient``: how much darker
    the darkest corner of the paper is than the brightest. ``noise``: gaussian sensor noise
    (std, in [0, 1] units). ``ink``: stroke darkness relative to the paper.
    """
    if isinstance(lines, str):
        lines = lines.split("\n")
    rng = np.random.default_rng(seed)
    glyphs = glyphs or FontGlyphs()
    placed: list[tuple[int, int, np.ndarray, str]] = []  # (top, left, ink, char)
    margin = int(1.5 * char_px)
    y_base = margin + char_px
    width = 0
    for line in lines:
        x = margin
        for ch in line:
            if ch == " ":
                x += int(word_gap * char_px)
                continue
            h = max(4, int(round(char_px * (1 + rng.uniform(-size_jitter, size_jitter)))))
            g = _tight(glyphs(ch, h, rng))
            if g.size == 0:
                continue
            dy = int(round(rng.uniform(-baseline_jitter, baseline_jitter) * char_px))
            placed.append((y_base - g.shape[0] + dy, x, g, ch))
            x += g.shape[1] + int(rng.uniform(*letter_gap) * char_px)
        width = max(width, x)
        y_base += int(line_pitch * char_px)
    H = y_base - int(line_pitch * char_px) + margin
    W = width + margin
    ink_img = np.zeros((H, W), np.float32)
    label = np.zeros((H, W), np.int32)
    for k, (top, left, g, _) in enumerate(placed, start=1):
        sl = (slice(top, top + g.shape[0]), slice(left, left + g.shape[1]))
        ink_img[sl] = np.maximum(ink_img[sl], g)
        label[sl][g > 0.5] = k
    if rotate:
        ink_img = np.asarray(Image.fromarray(ink_img).rotate(rotate, Image.BILINEAR, expand=True))
        label = np.asarray(Image.fromarray(label).rotate(rotate, Image.NEAREST, expand=True))
        H, W = ink_img.shape
    boxes = np.zeros((len(placed), 4), np.int64)
    for k, sl in enumerate(ndi.find_objects(label, max_label=len(placed))):
        if sl is not None:
            boxes[k] = [sl[0].start, sl[1].start, sl[0].stop, sl[1].stop]
    paper = _paper((H, W), gradient, rng)
    gray = paper * (1 - ink * np.clip(ink_img, 0, 1))
    gray = gray + rng.normal(0, noise, gray.shape).astype(np.float32)
    tint = np.array([1.0, 0.97, 0.9], np.float32)
    rgb = np.clip(gray[:, :, None] * tint, 0, 1)
    image = (rgb * 255 + 0.5).astype(np.uint8)
    return SynthPage(image, boxes, [p[3] for p in placed], list(lines))


def _paper(shape: tuple[int, int], gradient: float, rng: np.random.Generator) -> np.ndarray:
    """Unevenly lit paper: a linear ramp in a random direction plus a soft blotch."""
    H, W = shape
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(a) * xx / max(W, 1) + np.sin(a) * yy / max(H, 1)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    cy, cx = rng.uniform(0, H), rng.uniform(0, W)
    blob = np.exp(-(((yy - cy) / (0.4 * H)) ** 2 + ((xx - cx) / (0.4 * W)) ** 2))
    light = 1 - gradient * (0.7 * ramp + 0.3 * blob)
    return (0.92 * light).astype(np.float32)
