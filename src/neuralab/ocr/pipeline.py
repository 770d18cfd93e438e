"""Photo in, text out: find letters -> group lines -> normalise crops -> classify -> text."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from neuralab.errors import NeuralabError
from neuralab.ocr.crops import EMNIST, CropSpec, normalize_crops
from neuralab.ocr.detect import DetectParams, detect
from neuralab.ocr.lines import assemble_text, group_lines, word_breaks

Classifier = Callable[[np.ndarray], Sequence[str]]
"""``classify(crops float32 [N, H, W] in [0, 1]) -> N strings`` (one per crop)."""


@dataclass
class OcrResult:
    """What :func:`read_text` read.

    ``text``: lines joined by ``\\n``, words by single spaces. ``boxes``: int64 ``[N, 4]``
    ``[y1, x1, y2, x2]`` in input-image coordinates, in reading order. ``lines``: one int
    array of indices into ``boxes`` per text line (top to bottom, each left to right).
    ``chars``: the classifier's string for each box. ``crops``: the ``[N, size, size]``
    classifier inputs. ``char_height``: typical character height in input px.
    """

    text: str
    boxes: np.ndarray
    lines: list[np.ndarray]
    chars: list[str]
    crops: np.ndarray = field(repr=False)
    char_height: float = 0.0


def read_text(
    image: np.ndarray,
    classify: Classifier,
    spec: CropSpec = EMNIST,
    params: DetectParams | None = None,
    timings: dict[str, float] | None = None,
) -> OcrResult:
    """Read a photo of handwritten uppercase letters and digits.

    ``image``: ``[H, W]``, ``[H, W, 3]`` or ``[H, W, 4]`` (uint8 or float in [0, 1]).
    ``classify``: any callable mapping crops ``[N, spec.size, spec.size]`` to N strings; it is
    not called when the page has no characters. ``timings``, when given, receives the
    seconds spent in ``detect`` (finding letters and lines), ``crops`` and ``classify``.
    """
    t0 = time.perf_counter()
    det = detect(image, params)
    lines = group_lines(det.boxes, det.char_height or None)
    order = np.concatenate(lines) if lines else np.zeros(0, np.int64)
    boxes = det.boxes[order]
    starts = np.cumsum([0] + [len(ln) for ln in lines])
    lines = [np.arange(starts[k], starts[k + 1]) for k in range(len(lines))]
    t1 = time.perf_counter()
    crops = normalize_crops(det.bw, boxes, spec)
    t2 = time.perf_counter()
    chars = classify_crops(classify, crops)
    t3 = time.perf_counter()
    text = assemble_text(chars, lines, word_breaks(boxes, lines))
    if timings is not None:
        timings.update(detect=t1 - t0, crops=t2 - t1, classify=t3 - t2)
    return OcrResult(text, boxes, lines, chars, crops, det.char_height)


def classify_crops(classify: Classifier, crops: np.ndarray) -> list[str]:
    """Run ``classify`` and check it answered one string per crop."""
    if len(crops) == 0:
        return []
    out = classify(crops)
    chars = [str(c) for c in (out.tolist() if isinstance(out, np.ndarray) else out)]
    if len(chars) != len(crops):
        raise NeuralabError(
            f"the classifier returned {len(chars)} labels for {len(crops)} crops; it must "
            "return one string per crop"
        )
    return chars
