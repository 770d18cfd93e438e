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
    load_classifier(name_or_path="shipped") -> Classifier (the model shipped in ocr/model/)
    character_error_rate(predicted, truth, alphabet=None, whitespace="ignore") -> float
    draw_boxes(image, boxes, path, labels=None) -> Path
    failure_examples(out_dir) -> list[FailureExample]

The names are imported on first use (PEP 562), so ``neuralab ocr`` loads only the modules
it runs (no synthetic-page fonts, no failure gallery, no torch).
"""

from __future__ import annotations

import importlib
import sys
import types

_WHERE = {
    "ALPHANUMERIC_UPPER": "cer", "character_error_rate": "cer", "levenshtein": "cer",
    "EMNIST": "crops", "CropSpec": "crops", "normalize_crops": "crops",
    "DetectParams": "detect", "detect": "detect", "find_letters": "detect",
    "draw_boxes": "draw",
    "FailureExample": "failures", "failure_examples": "failures",
    "load_image": "image", "to_gray": "image",
    "group_lines": "lines", "word_breaks": "lines",
    "OcrResult": "pipeline", "read_text": "pipeline",
    "FontGlyphs": "synth", "SynthPage": "synth", "render_page": "synth",
    "Classifier": "classifier", "load_classifier": "classifier",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'neuralab.ocr' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"neuralab.ocr.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """``neuralab.ocr.detect`` names the function ``detect`` (as it always has), even after
    the submodule of the same name was imported, which binds the module to the package."""

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and _WHERE.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
