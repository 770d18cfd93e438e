"""Regenerate results/ocr/: the hw5 photos read by a trained classifier, boxes and CER.

    NEURALAB_DATA=/path/to/data python benchmarks/ocr_cer.py [MODEL] [--runs runs]

MODEL is what ``neuralab ocr --model`` takes (default: emnist-cnn, the newest finished run
under runs/). For each photo this does what ``neuralab ocr PHOTO --model MODEL --boxes
results/ocr/<photo>_boxes.png`` does (with a 900-px, 48-colour boxes picture) and compares the text
with the typed ground truth in tests/ocr/ocr_ground_truth.py: case-sensitive CER over the
classifier's alphabet 0-9 A-Z, with whitespace ignored (the reported number) and with word
gaps and line breaks counted as spaces; also the CER without the letter/digit word prior.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "ocr"


def ground_truth():
    spec = importlib.util.spec_from_file_location(
        "ocr_ground_truth", REPO / "tests" / "ocr" / "ocr_ground_truth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    from neuralab import system
    from neuralab.io import read_json, write_json
    from neuralab.ocr import character_error_rate, draw_boxes
    from neuralab.ocr.cli import read_photo
    from neuralab.ocr.pipeline import read_text

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", default="emnist-cnn")
    parser.add_argument("--runs", default=str(REPO / "runs"))
    args = parser.parse_args(argv)
    truth_module = ground_truth()
    hw5 = Path(os.environ.get("NEURALAB_DATA", REPO.parent / "shared" / "data")) / "hw5"
    photos, model_run = {}, None
    for name in ("01_list.jpg", "02_letters.jpg"):
        start = time.perf_counter()
        result, image, classify = read_photo(hw5 / name, args.model, args.runs)
        seconds = time.perf_counter() - start
        raw = read_text(image, classify, spec=classify.crop_spec)
        model_run = classify.path.parent
        boxes = draw_boxes(image, result.boxes, OUT / f"{Path(name).stem}_boxes.png",
                           labels=result.chars, max_side=900)
        with Image.open(boxes) as im:  # a 48-colour palette keeps the picture small
            small = im.convert("RGB").quantize(48, method=Image.Quantize.MEDIANCUT)
        small.save(boxes, optimize=True)
        truth = truth_module.PHOTOS[name]
        alphabet = truth_module.ALPHABET
        photos[name] = {
            "cer": round(character_error_rate(result.text, truth, alphabet), 4),
            "cer_with_spaces": round(character_error_rate(result.text, truth, alphabet,
                                                          whitespace="collapse"), 4),
            "cer_without_word_prior": round(character_error_rate(raw.text, truth, alphabet), 4),
            "characters": len("".join(c for c in truth if c in alphabet)),
            "boxes": len(result.boxes),
            "predicted": result.text,
            "predicted_without_word_prior": raw.text,
            "truth": truth,
            "boxes_image": boxes.relative_to(OUT.parent).as_posix(),
            "seconds": round(seconds, 2),
            "command": f"neuralab ocr $NEURALAB_DATA/hw5/{name} --model {args.model} "
                       f"--boxes {Path(name).stem}_boxes.png",
        }
        print(f"{name}: CER {photos[name]['cer']:.4f}\n{result.text}\n", file=sys.stderr)
    metrics = read_json(model_run / "metrics.json")
    rel = os.path.relpath(model_run, REPO)
    doc = {
        "command": "NEURALAB_DATA=... python benchmarks/ocr_cer.py " + " ".join(argv or
                                                                                 sys.argv[1:]),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "model": args.model,
        "model_run": rel,
        "model_command": metrics.get("command"),
        "model_test_accuracy": metrics.get("metrics", {}).get("test_accuracy"),
        "cer_definition": "Levenshtein(pred, truth) / len(truth), case-sensitive, characters "
                          "outside 0-9A-Z removed from both, whitespace ignored "
                          "(cer_with_spaces: every whitespace run counts as one space)",
        "word_prior": "inside a word, switching between letters and digits costs 3 nats "
                      "(neuralab.ocr.classifier.decode_words)",
        "hardware": system.hardware("cpu"),
        "photos": photos,
    }
    write_json(OUT / "cer.json", doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
