"""``neuralab ocr IMAGE [IMAGE ...] [--model NAME_OR_PATH] [--json] [--boxes OUT] [--runs DIR]``.

Reads photos of handwritten uppercase letters and digits and prints the text: lines joined by
newlines, words by spaces. By default the classifier shipped inside the package is used
(``neuralab/ocr/model/``, trained by the ``ocr-model`` experiment), so nothing needs training
first; ``--model`` takes an experiment name (its newest finished run under ``--runs``), a run
folder or a ``classifier.json``.

Conventions of OCR tools:

* several images in one call (the model is loaded once); with more than one, each text is
  preceded by a ``==> IMAGE <==`` line, as ``head`` does;
* ``-`` reads an encoded image (PNG, JPEG ...) from standard input;
* ``--json`` prints one JSON object per image, one per line (JSON Lines): the text, each line
  (text, box, its characters) and each character (label, confidence, box, line, word); boxes
  are ``{"left", "top", "width", "height"}`` in the input image's pixels;
* ``--boxes OUT.png`` draws the boxes and labels (several images: ``OUT`` is a folder, one
  ``<stem>_boxes.png`` each);
* ``--timings`` prints where the time went (model load, reading, detection, crops,
  classification) to standard error.

After the classifier has labelled each crop on its own, a character-type prior is applied
inside each word (:func:`neuralab.ocr.classifier.decode_words`): a word does not switch
between letters and digits unless a character's evidence is strong, which settles the O/0,
I/1, S/5, Z/2 look-alikes that EMNIST itself cannot tell apart (``--no-word-prior`` turns it
off).

This module imports nothing heavy at import time: the parser is built for every ``neuralab``
command, and the OCR itself needs NumPy, SciPy, Pillow and scikit-image but not torch (the
shipped network runs in NumPy, :mod:`neuralab.ocr.npnet`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from neuralab.ocr.classifier import Classifier
    from neuralab.ocr.pipeline import OcrResult

BOXES_MAX_SIDE = 1200  # px: the boxes picture is for looking at, not a full-size copy
SWITCH_COST = 3.0  # nats to switch between letters and digits inside a word
DEFAULT_MODEL = "shipped"
STDIN = "-"
JSON_FORMAT = "neuralab-ocr/1"


# ----------------------------------------------------------------------------- reading
class _Recording:
    """``classify`` for :func:`read_text` that keeps the class probabilities it computed,
    so the word prior and the confidences need no second pass through the network."""

    def __init__(self, classify: Classifier) -> None:
        self.classify, self.probs = classify, None

    def __call__(self, crops: np.ndarray) -> list[str]:
        self.probs = self.classify.predict_proba(crops)
        return [self.classify.classes[i] for i in self.probs.argmax(axis=1)]


def with_word_context(result: OcrResult, classify: Classifier,
                      switch_cost: float = SWITCH_COST,
                      probs: np.ndarray | None = None) -> OcrResult:
    """``result`` relabelled by :func:`decode_words` (text re-assembled, spaces kept);
    ``probs`` are the crops' class probabilities when already known."""
    import numpy as np

    from neuralab.ocr.classifier import decode_words
    from neuralab.ocr.lines import assemble_text, word_breaks

    if len(result.boxes) == 0:
        return result
    breaks = word_breaks(result.boxes, result.lines)
    if probs is None:
        probs = classify.predict_proba(result.crops)
    log_probs = np.log(np.clip(probs, 1e-12, None))
    chars = decode_words(log_probs, classify.classes, _words(result, breaks), switch_cost)
    text = assemble_text(chars, result.lines, breaks)
    return dataclasses.replace(result, text=text, chars=chars)


def _words(result: OcrResult, breaks) -> list[np.ndarray]:
    import numpy as np

    words = []
    for line, brk in zip(result.lines, breaks, strict=True):
        cuts = np.nonzero(brk)[0] + 1
        words += [w for w in np.split(np.asarray(line), cuts) if len(w)]
    return words


@dataclasses.dataclass
class PhotoReading:
    """One image read: the result (after the word prior when on), the image, the class
    probabilities ``[N, classes]`` of its crops and the seconds per stage."""

    name: str
    result: OcrResult
    image: np.ndarray
    probs: np.ndarray
    timings: dict[str, float]


def read_image_array(image: np.ndarray, classify: Classifier, name: str = "image",
                     word_context: bool = True) -> PhotoReading:
    """Read an image array with a loaded classifier (see :func:`read_photo`)."""
    import numpy as np

    from neuralab.ocr.pipeline import read_text

    timings: dict[str, float] = {}
    rec = _Recording(classify)
    result = read_text(image, rec, spec=classify.crop_spec, timings=timings)
    probs = rec.probs if rec.probs is not None else np.zeros((0, len(classify.classes)))
    if word_context:
        t0 = time.perf_counter()
        result = with_word_context(result, classify, probs=probs)
        timings["word_prior"] = time.perf_counter() - t0
    return PhotoReading(name, result, image, probs, timings)


def load_input(source: str | os.PathLike, stdin=None) -> np.ndarray:
    """The image at path ``source``, or read from ``stdin`` (binary) when it is ``-``."""
    from neuralab.ocr.image import image_from_bytes, load_image

    if os.fspath(source) == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        return image_from_bytes(stream.read(), "standard input")
    return load_image(source)


def read_photo(image_path: str | os.PathLike, model: str | os.PathLike = DEFAULT_MODEL,
               runs_dir: str | os.PathLike = "runs", word_context: bool = True,
               ) -> tuple[OcrResult, np.ndarray, Classifier]:
    """``(OcrResult, image, classifier)`` for the photo at ``image_path`` read with
    classifier ``model`` (a name or path, see
    :func:`neuralab.ocr.classifier.find_classifier`; default: the shipped model);
    ``word_context`` applies the letter/digit prior inside words."""
    from neuralab.ocr.classifier import load_classifier

    image = load_input(image_path)
    classify = load_classifier(model, runs_dir)
    reading = read_image_array(image, classify, os.fspath(image_path), word_context)
    return reading.result, image, classify


def run_ocr(image_path: str | os.PathLike, model: str | os.PathLike = DEFAULT_MODEL,
            boxes_out: str | os.PathLike | None = None, runs_dir: str | os.PathLike = "runs",
            boxes_max_side: int | None = BOXES_MAX_SIDE, word_context: bool = True) -> str:
    """The text read from the photo at ``image_path``; writes the boxes picture to
    ``boxes_out`` (PNG, longer side at most ``boxes_max_side``) when given.

    A missing or undecodable image, or no trained classifier, is a one-line
    :class:`~neuralab.errors.NeuralabError` (the CLI exits with code 2).
    """
    result, image, _ = read_photo(image_path, model, runs_dir, word_context)
    if boxes_out is not None:
        from neuralab.ocr.draw import draw_boxes

        draw_boxes(image, result.boxes, Path(boxes_out), labels=result.chars,
                   max_side=boxes_max_side)
    return result.text


# ----------------------------------------------------------------------------- JSON
def _box(b) -> dict[str, int]:
    y1, x1, y2, x2 = (int(v) for v in b)
    return {"left": x1, "top": y1, "width": x2 - x1, "height": y2 - y1}


def reading_json(reading: PhotoReading, classify: Classifier) -> dict[str, Any]:
    """The ``--json`` object of one image (schema ``neuralab-ocr/1``, see the module doc)."""
    from neuralab.ocr.lines import word_breaks

    res = reading.result
    index = {c: i for i, c in enumerate(classify.classes)}
    breaks = word_breaks(res.boxes, res.lines) if len(res.boxes) else []
    chars: list[dict[str, Any]] = [{} for _ in range(len(res.boxes))]
    lines, word = [], 0
    for k, (line, brk) in enumerate(zip(res.lines, breaks, strict=True)):
        for j, i in enumerate(line):
            i = int(i)
            label = res.chars[i]
            conf = float(reading.probs[i, index[label]]) if label in index else None
            chars[i] = {"label": label, "confidence": None if conf is None else round(conf, 4),
                        "box": _box(res.boxes[i]), "line": k, "word": word}
            if j < len(brk) and brk[j]:
                word += 1
        word += 1
        b = res.boxes[line]
        lines.append({"text": res.text.split("\n")[k] if res.text else "",
                      "box": _box([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()]),
                      "chars": [int(i) for i in line]})
    h, w = reading.image.shape[:2]
    return {"format": JSON_FORMAT, "image": reading.name, "width": int(w), "height": int(h),
            "model": str(classify.path), "text": res.text, "lines": lines, "chars": chars}


# ----------------------------------------------------------------------------- command
def add_ocr_parser(sub) -> argparse.ArgumentParser:
    """Add ``ocr`` to the ``neuralab`` subcommands (``sub``: argparse's subparsers)."""
    from neuralab import argtypes

    p = sub.add_parser("ocr", help="read handwritten text from photos",
                       description="Read handwritten uppercase letters and digits from photos "
                       "with the classifier shipped in the package (or --model).")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="photo files (PNG, JPEG ...); - reads one from standard input")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="'shipped' (default: the model inside the package), an experiment "
                   "name (its newest finished run under --runs), a run folder or a "
                   "classifier.json")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per image and line: text, lines, and per character "
                   "its box, label and confidence")
    p.add_argument("--boxes", default=None, metavar="OUT", type=argtypes.path,
                   help="write the photo with boxes and labels to OUT.png (several images: "
                   "OUT is a folder, one <stem>_boxes.png each)")
    p.add_argument("--runs", default="runs", type=argtypes.path,
                   help="runs folder for --model NAME")
    p.add_argument("--no-word-prior", dest="word_prior", action="store_false",
                   help="label each character on its own (no letter/digit context in words)")
    p.add_argument("--timings", action="store_true",
                   help="print the seconds of each stage to standard error")
    return p


def process_age() -> float | None:
    """Seconds since this process started (Linux ``/proc``; None elsewhere): the start-up
    cost of the interpreter and the imports before the command ran."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _boxes_path(boxes: str, name: str, several: bool) -> Path:
    if not several:
        return Path(boxes)
    stem = "stdin" if name == STDIN else Path(name).stem
    return Path(boxes) / f"{stem}_boxes.png"


def main_ocr(args: argparse.Namespace, stdout=None, stdin=None) -> int:
    """``neuralab ocr``: read every image of ``args.images``; 0 when all were read.

    A missing image is reported before any work; any error is a one-line
    :class:`~neuralab.errors.NeuralabError` (the CLI prints it and exits 2).
    """
    startup = process_age()
    from neuralab.errors import NeuralabError

    out = stdout if stdout is not None else sys.stdout
    images = list(args.images)
    if images.count(STDIN) > 1:
        raise NeuralabError("standard input (-) can be read only once per call")
    for name in images:
        if name != STDIN and not os.path.isfile(name):
            raise NeuralabError(f"image file not found: {name} (check the path)")
    t0 = time.perf_counter()
    from neuralab.ocr import classifier, npnet, pipeline  # noqa: F401  (timed as imports)

    t1 = time.perf_counter()
    classify = classifier.load_classifier(args.model, args.runs)
    first = {"startup": startup, "imports": t1 - t0, "model_load": time.perf_counter() - t1}
    several = len(images) > 1
    for k, name in enumerate(images):
        t1 = time.perf_counter()
        image = load_input(name, stdin)
        read_s = time.perf_counter() - t1
        reading = read_image_array(image, classify, name, args.word_prior)
        timings = {**({key: v for key, v in first.items() if v is not None} if k == 0 else {}),
                   "read_image": read_s, **reading.timings}
        if args.boxes is not None:
            from neuralab.ocr.draw import draw_boxes

            t2 = time.perf_counter()
            draw_boxes(image, reading.result.boxes, _boxes_path(args.boxes, name, several),
                       labels=reading.result.chars, max_side=BOXES_MAX_SIDE)
            timings["boxes"] = time.perf_counter() - t2
        text = reading.result.text
        if args.json:
            print(json.dumps(reading_json(reading, classify)), file=out)
        else:
            if several:
                print(("\n" if k else "") + f"==> {name} <==", file=out)
            if text.strip():
                print(text, file=out)
            else:  # a page without writing is an answer, not an error: say so where people look
                print(f"neuralab ocr: no characters found in {name}", file=sys.stderr)
        if args.timings:
            parts = " ".join(f"{key} {v:.3f}" for key, v in timings.items())
            print(f"neuralab ocr: {name}: seconds: {parts} (engine {classify.engine})",
                  file=sys.stderr)
        out.flush()
    return 0
