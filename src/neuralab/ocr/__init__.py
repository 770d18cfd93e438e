"""Handwriting OCR (16-720 / COMP5421 hw5 section 4).

A photo of a page of handwritten uppercase letters and digits goes through::

    find_letters (detect.py)  ->  group_lines / word_breaks (lines.py)
    ->  normalize_crops (crops.py)  ->  classify (any callable)  ->  text (pipeline.py)

Public API::

    load_image(path) -> uint8 [H, W] | [H, W, 3] | [H, W, 4]
    find_letters(image, params=None) -> (boxes int64 [N, 4] [y1, x1, y2, x2], bw [H, W])
    group_lines(boxes, char_h=None) -> list of index arrays (lines, left to right)
    normalize_crops(bw, boxes, spec=EMNIST) -> float32 [N, size, size]
    read_text(image, classify, spec=EMNIST, params=None) -> OcrResult
    character_error_rate(predicted, truth, alphabet=None, whitespace="ignore") -> float
    draw_boxes(image, boxes, path, labels=None) -> Path
    failure_examples(out_dir) -> list[FailureExample]
"""

from neuralab.ocr.cer import ALPHANUMERIC_UPPER, character_error_rate, levenshtein
from neuralab.ocr.crops import EMNIST, CropSpec, normalize_crops
from neuralab.ocr.detect import DetectParams, detect, find_letters
from neuralab.ocr.draw import draw_boxes
from neuralab.ocr.failures import FailureExample, failure_examples
from neuralab.ocr.image import load_image, to_gray
from neuralab.ocr.lines import group_lines, word_breaks
from neuralab.ocr.pipeline import OcrResult, read_text
from neuralab.ocr.synth import FontGlyphs, SynthPage, render_page

__all__ = [
    "ALPHANUMERIC_UPPER",
    "EMNIST",
    "CropSpec",
    "DetectParams",
    "FailureExample",
    "FontGlyphs",
    "OcrResult",
    "SynthPage",
    "character_error_rate",
    "detect",
    "draw_boxes",
    "failure_examples",
    "find_letters",
    "group_lines",
    "levenshtein",
    "load_image",
    "normalize_crops",
    "read_text",
    "render_page",
    "to_gray",
    "word_breaks",
]
