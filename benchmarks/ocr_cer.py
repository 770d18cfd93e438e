"""The hw5 photos read by a classifier (boxes, CER), its test accuracy, and the speed of
``neuralab ocr``: ``results/ocr/shipped_model.json`` (the shipped model) or
``results/ocr/cer.json`` (any other ``--model``).

    NEURALAB_DATA=/path/to/data python benchmarks/ocr_cer.py [MODEL] [--runs runs]
        [--repeat 5] [--no-accuracy] [--no-timing]

MODEL is what ``neuralab ocr --model`` takes (default: ``shipped``, the classifier inside the
package). For each photo this does what ``neuralab ocr PHOTO --model MODEL --boxes
results/ocr/<photo>_boxes.png`` does (with a 900-px, 48-colour boxes picture) and compares the
text with the typed ground truth in tests/ocr/ocr_ground_truth.py: case-sensitive CER over
the classifier's alphabet 0-9 A-Z, with whitespace ignored (the reported number) and with
word gaps and line breaks counted as spaces; also the CER without the letter/digit word
prior.

For the shipped model it also measures:

* accuracy on the whole EMNIST Letters test split (20,800) and MNIST test split (10,000,
  re-framed like EMNIST as in training), 36-way and restricted to the true character's type,
  through the shipped files and the NumPy engine ``neuralab ocr`` uses;
* the time of ``neuralab ocr PHOTO --timings`` run ``--repeat`` times as a fresh process in
  a folder without ``runs/``: the whole command (wall clock) and its stages (start-up,
  imports, model load, reading the JPEG, detection, crops, classification), medians, with
  the CPU model from /proc/cpuinfo and the load average around the measurement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "ocr"
PHOTOS = ("01_list.jpg", "02_letters.jpg")


def ground_truth():
    spec = importlib.util.spec_from_file_location(
        "ocr_ground_truth", REPO / "tests" / "ocr" / "ocr_ground_truth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def read_photos(hw5: Path, model: str, runs: str, prefix: str) -> dict:
    from PIL import Image

    from neuralab.ocr import character_error_rate, draw_boxes
    from neuralab.ocr.cli import read_photo
    from neuralab.ocr.pipeline import read_text

    truth_module = ground_truth()
    photos = {}
    for name in PHOTOS:
        start = time.perf_counter()
        result, image, classify = read_photo(hw5 / name, model, runs)
        seconds = time.perf_counter() - start
        raw = read_text(image, classify, spec=classify.crop_spec)
        boxes = draw_boxes(image, result.boxes, OUT / f"{prefix}{Path(name).stem}_boxes.png",
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
            "seconds_in_process": round(seconds, 2),
            "command": f"neuralab ocr $NEURALAB_DATA/hw5/{name}"
                       + ("" if model == "shipped" else f" --model {model}"),
        }
        print(f"{name}: CER {photos[name]['cer']:.4f}\n{result.text}\n", file=sys.stderr)
    return photos, classify


def test_accuracy(classify) -> dict:
    """36-way and type-restricted accuracy on EMNIST Letters test and MNIST test."""
    import numpy as np

    from neuralab import data
    from neuralab.experiments.handwriting import emnist_frame

    letters = data.load("emnist", split="letters")["test"]
    mnist = data.load("mnist")["test"]
    digit = np.array([c.isdigit() for c in classify.classes])
    out = {}
    for key, images, labels in (("emnist_letters_test", letters.images, letters.labels + 10),
                                ("mnist_test", emnist_frame(mnist.images), mnist.labels)):
        crops = images[..., 0].astype(np.float32) / 255
        start = time.perf_counter()
        logits = classify.logits(crops)
        seconds = time.perf_counter() - start
        same = digit[None, :] == digit[labels][:, None]
        typed = np.where(same, logits, -np.inf).argmax(1)
        out[key] = {"images": int(len(labels)),
                    "accuracy": round(float((logits.argmax(1) == labels).mean()), 4),
                    "accuracy_typed": round(float((typed == labels).mean()), 4),
                    "images_per_s": round(len(labels) / seconds, 1)}
        print(f"{key}: {out[key]}", file=sys.stderr)
    return out


STAGE = re.compile(r"seconds: (.*) \(engine (\w+)\)")


def time_command(photo: Path, repeat: int) -> dict:
    """``neuralab ocr PHOTO --timings`` as a fresh process, ``repeat`` times (after one
    warm-up call that fills the file cache)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "neuralab", "ocr", str(photo), "--timings"]
    walls, stages, engine = [], [], None
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as cwd:  # no runs/ here
        for k in range(repeat + 1):
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env,
                                  check=True)
            wall = time.perf_counter() - start
            m = STAGE.search(proc.stderr)
            if k == 0 or m is None:
                continue
            walls.append(wall)
            engine = m.group(2)
            parts = m.group(1).split()
            stages.append({parts[i]: float(parts[i + 1]) for i in range(0, len(parts), 2)})
        base = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True, cwd=cwd)
            base.append(time.perf_counter() - start)
    keys = list(stages[0]) if stages else []
    median = {k: round(statistics.median(s[k] for s in stages), 3) for k in keys}
    return {
        "command": f"neuralab ocr $NEURALAB_DATA/hw5/{photo.name} (fresh process, cwd "
                   "without runs/)",
        "calls": len(walls),
        "wall_s_median": round(statistics.median(walls), 3),
        "wall_s_min": round(min(walls), 3),
        "wall_s_max": round(max(walls), 3),
        "stages_s_median": median,
        "unaccounted_s_median": round(statistics.median(walls) - sum(median.values()), 3),
        "python_empty_start_s_median": round(statistics.median(base), 3),
        "engine": engine,
        "load_average_before_after": [round(load_before[0], 2),
                                      round(os.getloadavg()[0], 2)],
    }


def main(argv: list[str] | None = None) -> int:
    from neuralab import system
    from neuralab.io import read_json, write_json
    from neuralab.ocr.classifier import PROVENANCE, SHIPPED, SHIPPED_DIR

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", default=SHIPPED)
    parser.add_argument("--runs", default=str(REPO / "runs"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-accuracy", dest="accuracy", action="store_false")
    parser.add_argument("--no-timing", dest="timing", action="store_false")
    args = parser.parse_args(argv)
    hw5 = Path(os.environ.get("NEURALAB_DATA", REPO.parent / "shared" / "data")) / "hw5"
    shipped = args.model == SHIPPED
    photos, classify = read_photos(hw5, args.model, args.runs, "shipped_" if shipped else "")
    model_dir = classify.path.parent
    command = "NEURALAB_DATA=... python benchmarks/ocr_cer.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    doc = {
        "command": command.strip(),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "model": args.model,
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "hardware": system.hardware("cpu"),
        "cer_definition": "Levenshtein(pred, truth) / len(truth), case-sensitive, characters "
                          "outside 0-9A-Z removed from both, whitespace ignored "
                          "(cer_with_spaces: every whitespace run counts as one space)",
        "word_prior": "inside a word, switching between letters and digits costs 3 nats "
                      "(neuralab.ocr.classifier.decode_words)",
    }
    if shipped:
        prov = read_json(SHIPPED_DIR / PROVENANCE)
        doc["model_files"] = os.path.relpath(model_dir, REPO)
        doc["model_provenance"] = {k: prov.get(k) for k in ("experiment", "run", "command",
                                                            "date", "hardware", "wall_time_s",
                                                            "weights")}
        doc["model_provenance"]["data"] = [{k: d.get(k) for k in ("name", "format", "checksum",
                                                                  "verified", "files")}
                                           for d in prov.get("data", [])]
        doc["run_metrics"] = prov.get("metrics")
        n = sum(p["characters"] for p in photos.values())
        doc["hw5_photo_cer"] = round(sum(p["cer"] * p["characters"]
                                         for p in photos.values()) / n, 4)
        doc["photos"] = photos
        if args.accuracy:
            doc["test_accuracy"] = test_accuracy(classify)
        if args.timing:
            doc["timing"] = {name: time_command(hw5 / name, args.repeat) for name in PHOTOS}
            for name, t in doc["timing"].items():
                print(f"{name}: {t['wall_s_median']} s median, {t['stages_s_median']}",
                      file=sys.stderr)
        write_json(OUT / "shipped_model.json", doc)
        return 0
    metrics = read_json(model_dir / "metrics.json")
    doc.update(model_run=os.path.relpath(model_dir, REPO),
               model_command=metrics.get("command"),
               model_test_accuracy=metrics.get("metrics", {}).get("test_accuracy"),
               photos=photos)
    write_json(OUT / "cer.json", doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
