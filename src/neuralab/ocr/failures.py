"""Synthesised inputs on which connected-component letter finding fails (hw5 Q4.1).

The method assumes (1) every character is exactly one connected blob of ink (after a small
closing and the x-overlap merge) and (2) different characters never touch. Each example
below breaks one assumption; :func:`failure_examples` renders it, runs
:func:`~neuralab.ocr.detect.find_letters` and saves the photo with the found boxes.

``python -m neuralab.ocr.docs docs/ocr`` regenerates the images used in ``docs/ocr.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from neuralab.ocr.detect import find_letters
from neuralab.ocr.draw import draw_boxes
from neuralab.ocr.synth import FontGlyphs, render_page


@dataclass
class FailureExample:
    """One failure: ``path`` of the saved PNG, the ``text`` drawn, how many characters it
    has (``expected``) and how many boxes ``find_letters`` returned (``found``)."""

    name: str
    path: Path
    text: str
    expected: int
    found: int
    what: str


class _Broken(FontGlyphs):
    """A dry pen: a vertical band through the middle of each glyph is missing."""

    def __call__(self, ch, height, rng):
        ink = super().__call__(ch, height, rng)
        ys, xs = np.nonzero(ink > 0.5)
        if len(xs):
            mid = (xs.min() + xs.max()) // 2
            half = max(2, height // 8)
            ink = ink.copy()
            ink[:, mid - half // 2 : mid + half // 2 + 1] = 0
        return ink


def _cursive(text: str, seed: int) -> tuple[np.ndarray, int]:
    """Letters joined by connecting strokes, as in joined-up writing."""
    page = render_page(text, glyphs=FontGlyphs(thicken=2), letter_gap=(0.05, 0.1), seed=seed)
    img = Image.fromarray(page.image)
    draw = ImageDraw.Draw(img)
    b = page.boxes
    stroke = max(3, int(0.08 * float(np.median(b[:, 2] - b[:, 0]))))
    color = tuple(int(v) for v in np.percentile(page.image.reshape(-1, 3), 0.5, axis=0))
    for k in range(len(b) - 1):
        # join neighbours on the same word: bottom of one letter to the middle of the next
        if b[k + 1, 1] - b[k, 3] > 0.5 * (b[k, 2] - b[k, 0]):
            continue
        p0 = (int(b[k, 3]) - 2, int(b[k, 2]) - 2)
        p1 = (int(b[k + 1, 1]) + 2, int((b[k + 1, 0] + b[k + 1, 2]) / 2))
        draw.line([p0, p1], fill=color, width=stroke)
    return np.asarray(img), len(b)


def failure_examples(out_dir: str | Path, seed: int = 0) -> list[FailureExample]:
    """Render the failure cases, detect letters, save ``<name>.png`` under ``out_dir``."""
    out = Path(out_dir)
    examples = []
    cases = [
        (
            "touching",
            "TOUCHING LETTERS",
            FontGlyphs(thicken=4),
            (-0.1, -0.04),
            "strokes that touch their neighbours merge into one box per group",
        ),
        (
            "broken",
            "HUMAN WAVE",
            _Broken(thicken=2),
            (0.35, 0.5),
            "characters with a gap between their left and right halves become two boxes",
        ),
    ]
    for name, text, glyphs, gap, what in cases:
        page = render_page(text, glyphs=glyphs, letter_gap=gap, seed=seed)
        boxes, _ = find_letters(page.image)
        path = draw_boxes(page.image, boxes, out / f"{name}.png")
        examples.append(FailureExample(name, path, text, len(page.chars), len(boxes), what))
    text = "MINIMUM"
    image, n = _cursive(text, seed)
    boxes, _ = find_letters(image)
    path = draw_boxes(image, boxes, out / "cursive.png")
    examples.append(
        FailureExample(
            "cursive", path, text, n, len(boxes), "joined-up letters form one blob per word"
        )
    )
    return examples
