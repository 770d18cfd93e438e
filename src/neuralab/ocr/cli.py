"""``neuralab ocr IMAGE [--model NAME_OR_PATH] [--boxes OUT.png] [--runs DIR]``.

Reads a photo of handwritten uppercase letters and digits with a trained classifier (by
default the newest finished ``emnist-cnn`` run under ``runs/``) and returns the text: lines
joined by newlines, words by spaces. ``--boxes`` also writes the photo with each detected
character's box and predicted label.

After the classifier has labelled each crop on its own, a character-type prior is applied
inside each word (:func:`neuralab.ocr.classifier.decode_words`): a word does not switch
between letters and digits unless a character's evidence is strong, which settles the O/0,
I/1, S/5, Z/2 look-alikes that EMNIST itself cannot tell apart.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from neuralab.ocr.classifier import Classifier, decode_words, load_classifier
from neuralab.ocr.draw import draw_boxes
from neuralab.ocr.image import load_image
from neuralab.ocr.lines import assemble_text, word_breaks
from neuralab.ocr.pipeline import OcrResult, read_text

BOXES_MAX_SIDE = 1200  # px: the boxes picture is for looking at, not a full-size copy
SWITCH_COST = 3.0  # nats to switch between letters and digits inside a word


def with_word_context(result: OcrResult, classify: Classifier,
                      switch_cost: float = SWITCH_COST) -> OcrResult:
    """``result`` relabelled by :func:`decode_words` (text re-assembled, spaces kept)."""
    if len(result.boxes) == 0:
        return result
    breaks = word_breaks(result.boxes, result.lines)
    words = []
    for line, brk in zip(result.lines, breaks, strict=True):
        cuts = np.nonzero(brk)[0] + 1
        words += [w for w in np.split(np.asarray(line), cuts) if len(w)]
    log_probs = np.log(np.clip(classify.predict_proba(result.crops), 1e-12, None))
    chars = decode_words(log_probs, classify.classes, words, switch_cost)
    text = assemble_text(chars, result.lines, breaks)
    return dataclasses.replace(result, text=text, chars=chars)


def read_photo(image_path: str | os.PathLike, model: str | os.PathLike = "emnist-cnn",
               runs_dir: str | os.PathLike = "runs", word_context: bool = True,
               ) -> tuple[OcrResult, np.ndarray, Classifier]:
    """``(OcrResult, image, classifier)`` for the photo at ``image_path`` read with
    classifier ``model`` (a name or path, see
    :func:`neuralab.ocr.classifier.find_classifier`); ``word_context`` applies the
    letter/digit prior inside words."""
    image = load_image(image_path)
    classify = load_classifier(model, runs_dir)
    result = read_text(image, classify, spec=classify.crop_spec)
    if word_context:
        result = with_word_context(result, classify)
    return result, image, classify


def run_ocr(image_path: str | os.PathLike, model: str | os.PathLike = "emnist-cnn",
            boxes_out: str | os.PathLike | None = None, runs_dir: str | os.PathLike = "runs",
            boxes_max_side: int | None = BOXES_MAX_SIDE, word_context: bool = True) -> str:
    """The text read from the photo at ``image_path``; writes the boxes picture to
    ``boxes_out`` (PNG, longer side at most ``boxes_max_side``) when given.

    A missing or undecodable image, or no trained classifier, is a one-line
    :class:`~neuralab.errors.NeuralabError` (the CLI exits with code 2).
    """
    result, image, _ = read_photo(image_path, model, runs_dir, word_context)
    if boxes_out is not None:
        draw_boxes(image, result.boxes, Path(boxes_out), labels=result.chars,
                   max_side=boxes_max_side)
    return result.text
